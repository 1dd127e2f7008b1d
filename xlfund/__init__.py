"""xlfund: the Learning Support delegation to school clusters, computed exactly from Excel."""

__version__ = "0.1.0"
