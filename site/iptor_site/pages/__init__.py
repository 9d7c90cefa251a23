"""The public pages: landing, pricing and estimator, the sitemap and language negotiation."""
