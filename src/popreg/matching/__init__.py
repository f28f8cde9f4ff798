"""Normalisation of Vietnamese names and addresses, blocking, probabilistic record linkage (Splink),
duplicate detection across the register and linkage of agencies' files."""
