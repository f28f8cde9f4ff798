"""A synthetic but statistically realistic population of Vietnam, for demos, tests and benchmarks.

:func:`popreg.synth.generator.generate_population` draws persons, households, family relations and
residence registrations from published aggregate statistics (the 2019 census and the usual
frequencies of Vietnamese names; ``data/README.md`` cites each source), vectorised with NumPy and
PyArrow so that a million persons take about a second. With an error rate it adds labelled
duplicates with realistic defects and the truth of which records are the same person, for record
linkage and data-quality work. :mod:`popreg.synth.io` writes the tables as Parquet.

No real personal data is used or produced: every person is invented.
"""
