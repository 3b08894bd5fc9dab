"""The work itself as plain functions on local files: formats, media, OCR, ASR, models.
No catalog or storage imports: paths and options in, dataclasses out."""
