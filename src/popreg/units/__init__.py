"""Vietnam's administrative units, before and after the reform of 1 July 2025, as shipped data.

Since 1 July 2025 the country has 34 provinces (Resolution 202/2025/QH15) and two levels of local
government, province and commune, with no district level. Addresses recorded before keep their
pre-2025 unit codes and stay resolvable; :mod:`popreg.units.catalogue` looks units up by code or
name in either generation and converts a pre-2025 unit to the 2025 unit(s) it became part of.
"""
