"""Review before anything opens: editing, open review, screening, redaction, the access policy."""
