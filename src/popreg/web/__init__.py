"""Server-rendered pages: the officials' console (Vietnamese by default, English available)."""
