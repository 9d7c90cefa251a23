"""The legal documents (privacy policy), per locale and version."""
