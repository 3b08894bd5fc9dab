"""What leaves the archive: exports, OAI-PMH, IIIF, the union catalogue and partner archives."""
