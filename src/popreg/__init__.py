"""popreg: an open national population-data platform."""

__version__ = "0.1.0"
