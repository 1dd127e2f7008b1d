"""Workbook files: the template writer, the reader and the allocation writer."""
