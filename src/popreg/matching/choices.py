"""The choices the ``popreg match`` commands offer, kept apart from the modules that do the work so
that the command line starts without importing Splink, DuckDB and pandas."""

from __future__ import annotations

DEFAULT_THRESHOLD = 0.99
"""The match probability from which ``popreg match dedupe`` puts two persons in one cluster."""

REGISTER = "register"
"""``--right register`` links to the persons of the register."""

BACKENDS = ("duckdb", "spark")
"""Where Splink runs."""
