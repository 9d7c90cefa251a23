"""The shared core: settings, database, clock, locales, URLs, security headers, logging, errors."""
