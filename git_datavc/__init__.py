"""git-datavc: version large data files, datasets and models beside code in plain git."""

__version__ = "0.1.0"
