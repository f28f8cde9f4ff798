"""Data-quality measures of the register ("correct, complete, clean, live") per province and nationally,
and their trend."""
