"""Settings, read from the environment with safe development defaults."""

from __future__ import annotations

import os
import secrets
from decimal import Decimal, InvalidOperation
from pathlib import Path

#: Top-level project folder: templates/, static/, translations/ and legal/ live here.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the app refuses to start."""


def _decimal(name: str, default: str) -> Decimal:
    raw = os.environ.get(name, default)
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(env: str, instance_path: Path) -> str:
    """SECRET_KEY from the environment; in development a random per-checkout key.

    Production never falls back to a default: signed cookies made with a
    known key could be forged.
    """
    key = os.environ.get("SECRET_KEY")
    if key:
        if env == "production" and len(key) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters in production")
        return key
    if env == "production":
        raise ConfigError("SECRET_KEY must be set when IPTOR_ENV=production")
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return key_file.read_text().strip()


def load_settings(instance_path: Path) -> dict:
    """All settings as a Flask config mapping."""
    env = os.environ.get("IPTOR_ENV", "development")
    if env not in {"development", "production"}:
        raise ConfigError("IPTOR_ENV must be 'development' or 'production'")
    return {
        "IPTOR_ENV": env,
        "SECRET_KEY": _secret_key(env, instance_path),
        # Public base URL for canonical links and the sitemap; empty means the request's host.
        "SITE_URL": os.environ.get("SITE_URL", "").rstrip("/"),
        "SESSION_COOKIE_SECURE": _bool("COOKIE_SECURE", env == "production"),
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "BABEL_TRANSLATION_DIRECTORIES": str(PROJECT_ROOT / "translations"),
        "LEGAL_DIR": os.environ.get("LEGAL_DIR", str(PROJECT_ROOT / "legal")),
        # The list price of the multiflex Base Module, formatted per locale by Babel.
        "PRICE_PER_USER_MONTH": _decimal("PRICE_PER_USER_MONTH", "35"),
        "PRICE_CURRENCY": os.environ.get("PRICE_CURRENCY", "EUR"),
        "SUBSCRIPTION_MONTHS": _int("SUBSCRIPTION_MONTHS", 12),
        "ESTIMATOR_MAX_USERS": 10_000,
        # Addresses the privacy policy names; kept out of the legal text so they can change.
        "EMAIL_MARKETING_OPTOUT": os.environ.get("EMAIL_MARKETING_OPTOUT", "unsubscribe@iptor.com"),
        "EMAIL_PRIVACY": os.environ.get("EMAIL_PRIVACY", "privacy@iptor.com"),
        "EMAIL_CONTACT": os.environ.get("EMAIL_CONTACT", "info@iptor.com"),
        "EMAIL_SUPERVISORY_AUTHORITY": os.environ.get(
            "EMAIL_SUPERVISORY_AUTHORITY", "imy@imy.se"
        ),
    }
