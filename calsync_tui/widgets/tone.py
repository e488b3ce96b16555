"""Theme-aware colour names shared by the console's widgets and screens."""

from __future__ import annotations

# Named colours that stay readable on the light theme's pale background (yellow and cyan
# are unreadable there); `tone(name, dark)` picks one per theme.
LIGHT_TONES = {
    "yellow": "dark_orange3",
    "cyan": "dodger_blue3",
    "green": "green4",
    "red": "red3",
    "blue": "blue3",
    "magenta": "magenta3",
}


def tone(name: str, dark: bool) -> str:
    """The colour to use for `name` on a dark (as is) or light theme."""
    return name if dark else LIGHT_TONES.get(name, name)
