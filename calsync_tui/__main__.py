"""`python -m calsync_tui` runs the same entry point as the console script."""

from calsync_tui.cli import main

raise SystemExit(main())
