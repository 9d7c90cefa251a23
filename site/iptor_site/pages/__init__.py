"""Content pages: the landing and pricing pages' marketing copy."""
