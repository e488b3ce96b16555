"""One screen per module; `base.ConsoleScreen` gives each the app's store and clock."""
