"""Lantai (兰台): the command line over the archive enrichment pipeline."""

__version__ = "0.1.0"
