"""Settings, read from the environment with safe development defaults."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from datetime import date
from decimal import Decimal, InvalidOperation
from email.utils import getaddresses
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from babel import Locale, UnknownLocaleError
from babel.numbers import is_currency
from email_validator import EmailNotValidError, validate_email
from limits import parse_many
from limits.storage import SCHEMES
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from werkzeug.sansio.utils import host_is_trusted

#: Top-level project folder: templates/, static/, translations/ and legal/ live here.
PROJECT_ROOT = Path(__file__).resolve().parents[3]


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the app refuses to start."""


#: The settings behind the company-details page, in the order it shows them; each is
#: optional (unset, it is left out). COMPANY_ADDRESS may hold several lines, separated
#: by line breaks or semicolons.
COMPANY_SETTINGS = (
    "COMPANY_NAME",
    "COMPANY_ADDRESS",
    "COMPANY_REPRESENTATIVE",
    "COMPANY_PHONE",
    "COMPANY_EMAIL",
    "COMPANY_REGISTER",
    "COMPANY_REGISTRATION",
    "COMPANY_VAT_ID",
)


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
    word = raw.strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name} must be on or off (1/0, true/false, yes/no, on/off), got {raw!r}")


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


#: The database refuses to delete audit entries younger than this (migration 0008).
AUDIT_MIN_YEARS = 1


def _at_least(name: str, default: int, minimum: int) -> int:
    value = _int(name, default)
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _choice(name: str, default: str, choices: set[str]) -> str:
    value = os.environ.get(name, default)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def _matching(name: str, pattern: str) -> str:
    value = os.environ.get(name, "").strip()
    if value and not re.fullmatch(pattern, value):
        raise ConfigError(f"{name} does not look right: {value!r}")
    return value


#: The base of mailed links in development when SITE_URL is unset: where `make run` serves.
DEVELOPMENT_SITE_URL = "http://127.0.0.1:5000"


def _site_url(env: str) -> str:
    """SITE_URL: the one base of every link in a mail. Production refuses to start
    without it, so that no link is ever built from a request's Host header."""
    value = os.environ.get("SITE_URL", "").strip().rstrip("/")
    if not value:
        if env == "production":
            raise ConfigError("SITE_URL must be set when IPTOR_ENV=production (the public base URL, "
                              "e.g. https://www.iptor.com): links in mail are built from it")
        return ""
    return checked_site_url(value)


def checked_site_url(value: str) -> str:
    """``value`` without a trailing slash if it is an http(s) base URL; else ConfigError."""
    value = value.strip().rstrip("/")
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?", value):
        raise ConfigError(f"SITE_URL must be an http(s) URL without query or fragment, got {value!r}")
    return value


def _trusted_hosts(env: str, site_url: str) -> list[str] | None:
    """TRUSTED_HOSTS: required in production, and it must include SITE_URL's host."""
    hosts = [h.strip() for h in os.environ.get("TRUSTED_HOSTS", "").split(",") if h.strip()]
    if env != "production":
        return hosts or None
    if not hosts:
        raise ConfigError("TRUSTED_HOSTS must be set when IPTOR_ENV=production (the host names the site "
                          "answers to, comma-separated, e.g. www.iptor.com)")
    if not host_is_trusted(urlsplit(site_url).hostname, hosts):
        raise ConfigError(f"TRUSTED_HOSTS must include the host of SITE_URL ({site_url})")
    return hosts


def _retired(name: str, why: str) -> dict:
    """A setting that no longer exists: refuse to start rather than ignore it silently."""
    if name in os.environ:
        raise ConfigError(f"{name} is no longer a setting: {why}; remove it from the environment")
    return {}


def load_settings(instance_path: Path) -> dict:
    """All settings as a Flask config mapping."""
    env = os.environ.get("IPTOR_ENV", "development")
    if env not in {"development", "production"}:
        raise ConfigError(f"IPTOR_ENV must be 'development' or 'production', got {env!r}")
    secret_key = _secret_key(env, instance_path)
    site_url = _site_url(env)
    return {
        "IPTOR_ENV": env,
        "SECRET_KEY": secret_key,
        # Public base URL: every link in a mail is built on it (rendering.public_url), in
        # development on DEVELOPMENT_SITE_URL when unset. Canonical links and the sitemap
        # use it too; unset (development only), they name the request's host.
        "SITE_URL": site_url,
        "SESSION_COOKIE_SECURE": _bool("COOKIE_SECURE", env == "production"),
        # Where the tags set their cookies, for deleting them on withdrawal; empty means the
        # registrable domain of SITE_URL (www.iptor.com → iptor.com).
        "COOKIE_DOMAIN": os.environ.get("COOKIE_DOMAIN", "").strip().lstrip("."),
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "BABEL_TRANSLATION_DIRECTORIES": str(PROJECT_ROOT / "translations"),
        "LEGAL_DIR": os.environ.get("LEGAL_DIR", str(PROJECT_ROOT / "legal")),
        # Marketing copy of the content pages (content/<page>/<locale>.yaml); part of the release.
        "CONTENT_DIR": str(PROJECT_ROOT / "content"),
        # The list price of the multiflex Base Module, formatted per locale by Babel.
        "PRICE_PER_USER_MONTH": _decimal("PRICE_PER_USER_MONTH", "35"),
        "PRICE_CURRENCY": os.environ.get("PRICE_CURRENCY", "EUR"),
        "SUBSCRIPTION_MONTHS": _int("SUBSCRIPTION_MONTHS", 12),
        "ESTIMATOR_MAX_USERS": 10_000,
        # How the list price is taxed: "excl_vat", "incl_vat", or empty (the page says nothing).
        "PRICE_TAX_BASIS": os.environ.get("PRICE_TAX_BASIS", "").strip(),
        # Addresses the privacy policy names; kept out of the legal text so they can change.
        "EMAIL_MARKETING_OPTOUT": os.environ.get("EMAIL_MARKETING_OPTOUT", "unsubscribe@iptor.com"),
        "EMAIL_PRIVACY": os.environ.get("EMAIL_PRIVACY", "privacy@iptor.com"),
        "EMAIL_CONTACT": os.environ.get("EMAIL_CONTACT", "info@iptor.com"),
        "EMAIL_SUPERVISORY_AUTHORITY": os.environ.get(
            "EMAIL_SUPERVISORY_AUTHORITY", "imy@imy.se"
        ),
        # Any SQLAlchemy URL; PostgreSQL in production.
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", f"sqlite:///{instance_path / 'iptor.sqlite3'}"
        ),
        # Seconds a statement waits for a lock another transaction holds before giving up
        # (the visitor gets a 503 with what they typed): SQLite's busy_timeout, PostgreSQL's lock_timeout.
        "DATABASE_LOCK_TIMEOUT": _decimal("DATABASE_LOCK_TIMEOUT", "10"),
        # Mail: with no SMTP_HOST, messages are written as .eml files to MAIL_DIR.
        "SMTP_HOST": os.environ.get("SMTP_HOST", ""),
        "SMTP_PORT": _int("SMTP_PORT", 25),
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": _bool("SMTP_STARTTLS", False),
        "SMTP_TIMEOUT": _int("SMTP_TIMEOUT", 10),
        "MAIL_DIR": os.environ.get("MAIL_DIR", str(instance_path / "mail")),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Iptor <no-reply@iptor.com>"),
        "MAIL_SALES_TEAM": os.environ.get("MAIL_SALES_TEAM", "sales@iptor.com"),
        "MAIL_PRIVACY_TEAM": os.environ.get("MAIL_PRIVACY_TEAM", "privacy@iptor.com"),
        # Demo booking calendar.
        "DEMO_TIMEZONE": os.environ.get("DEMO_TIMEZONE", "Europe/Stockholm"),
        "DEMO_DAY_START": os.environ.get("DEMO_DAY_START", "09:00"),
        "DEMO_DAY_END": os.environ.get("DEMO_DAY_END", "17:00"),
        "DEMO_SLOT_MINUTES": _int("DEMO_SLOT_MINUTES", 45),
        "DEMO_DAYS_AHEAD": _int("DEMO_DAYS_AHEAD", 15),
        "DEMO_WORKDAYS": os.environ.get("DEMO_WORKDAYS", "1,2,3,4,5"),  # ISO weekdays
        "DEMO_SEATS": _int("DEMO_SEATS", 1),
        # Free time a salesperson keeps before and after each of their other meetings.
        "DEMO_BUFFER_MINUTES": _int("DEMO_BUFFER_MINUTES", 15),
        # Encrypts salespeople's calendar credentials; derived from SECRET_KEY when unset.
        "CALENDAR_KEY": os.environ.get("CALENDAR_KEY", ""),
        # Calendar servers on loopback or private networks (an in-house CalDAV server), and
        # plain http to them; off, a calendar must be an https address on the internet.
        "CALENDAR_PRIVATE_HOSTS": _bool("CALENDAR_PRIVATE_HOSTS", False),
        # Nothing bookable sooner than this; public holidays of this country and these dates closed.
        "DEMO_MIN_NOTICE_HOURS": _int("DEMO_MIN_NOTICE_HOURS", 24),
        "DEMO_HOLIDAY_COUNTRY": os.environ.get("DEMO_HOLIDAY_COUNTRY", "SE"),
        "DEMO_CLOSED_DATES": os.environ.get("DEMO_CLOSED_DATES", ""),
        # Forms.
        "EMAIL_CHECK_DELIVERABILITY": _bool("EMAIL_CHECK_DELIVERABILITY", False),
        "IP_STORAGE": _choice("IP_STORAGE", "truncated", {"truncated", "full"}),
        "FORM_MIN_FILL_SECONDS": _int("FORM_MIN_FILL_SECONDS", 3),
        # A form shown longer ago than this (or to another session) is asked to be sent again.
        "FORM_MAX_AGE_HOURS": _int("FORM_MAX_AGE_HOURS", 2),
        # Privacy requests are due one month after receipt as GDPR Art. 12(3) counts it (dsr.due_date).
        **_retired("INQUIRY_RESPONSE_DAYS", "privacy requests are due one month after receipt, as GDPR Art. 12(3) "
                   "counts it (31 January: end of February), not a number of days"),
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 64 * 1024),
        "MAX_FORM_MEMORY_SIZE": _int("MAX_CONTENT_LENGTH", 64 * 1024),
        "WTF_CSRF_TIME_LIMIT": _int("CSRF_TIME_LIMIT", 4 * 3600),
        # Rate limits (Flask-Limiter syntax), counted where every worker and server sees
        # them: the site's own database (database://) or Redis (redis://host:6379).
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "database://"),
        "RATELIMIT_FORM_PER_IP": os.environ.get("RATELIMIT_FORM_PER_IP", "20 per hour"),
        "RATELIMIT_FORM_PER_EMAIL": os.environ.get("RATELIMIT_FORM_PER_EMAIL", "5 per hour"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Behind a reverse proxy: how many proxies' X-Forwarded-* headers to believe.
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
        # Host names this site answers to (comma-separated); others get 400.
        "TRUSTED_HOSTS": _trusted_hosts(env, site_url),
        "HSTS": _bool("HSTS", env == "production"),
        # Key of the hashes that stand in for addresses (suppressions, unsubscribe links).
        # Defaults to one derived from SECRET_KEY; set it so rotating SECRET_KEY keeps them.
        "SUPPRESSION_KEY": os.environ.get("SUPPRESSION_KEY", ""),
        # Lifetime of the single-use links of privacy requests (verification, download).
        "REQUEST_LINK_HOURS": _int("REQUEST_LINK_HOURS", 72),
        # Retention, enforced by `flask retention purge`.
        "RETENTION_DEMO_MONTHS": _int("RETENTION_DEMO_MONTHS", 24),
        "RETENTION_REQUEST_YEARS": _int("RETENTION_REQUEST_YEARS", 3),
        "RETENTION_UNVERIFIED_DAYS": _int("RETENTION_UNVERIFIED_DAYS", 30),
        "RETENTION_SPAM_DAYS": _int("RETENTION_SPAM_DAYS", 30),
        # The cookie-choice log: a choice is in force for at most six months (the
        # consent cookie's lifetime); its record is kept six more to answer questions.
        "RETENTION_COOKIE_CONSENT_MONTHS": _int("RETENTION_COOKIE_CONSENT_MONTHS", 12),
        # The staff audit log documents how requests were handled: kept as long as they are.
        "RETENTION_AUDIT_YEARS": _at_least("RETENTION_AUDIT_YEARS", 3, AUDIT_MIN_YEARS),
        # Rendered public pages kept in memory per process (0 turns the cache off).
        "PAGE_CACHE_SIZE": _int("PAGE_CACHE_SIZE", 512),
        # Tracking, loaded only after the visitor's consent; unset means never loaded.
        "GA_MEASUREMENT_ID": _matching("GA_MEASUREMENT_ID", r"G-[A-Z0-9]{4,20}"),
        "HUBSPOT_PORTAL_ID": _matching("HUBSPOT_PORTAL_ID", r"[0-9]{3,12}"),
        # The Babel locale whose formats English pages, mails and exports use (dates, times,
        # numbers); the texts and the /en/ URLs stay English. en_GB: 24-hour clock, day first.
        "ENGLISH_FORMAT_LOCALE": os.environ.get("ENGLISH_FORMAT_LOCALE", "en_GB").strip(),
        # The company-details page (legal notice, Impressum): what is set is shown, nothing else.
        "COMPANY_NAME": os.environ.get("COMPANY_NAME", "").strip(),
        "COMPANY_ADDRESS": os.environ.get("COMPANY_ADDRESS", "").strip(),
        "COMPANY_REPRESENTATIVE": os.environ.get("COMPANY_REPRESENTATIVE", "").strip(),
        "COMPANY_PHONE": os.environ.get("COMPANY_PHONE", "").strip(),
        "COMPANY_EMAIL": os.environ.get("COMPANY_EMAIL", "").strip(),
        "COMPANY_REGISTER": os.environ.get("COMPANY_REGISTER", "").strip(),
        "COMPANY_REGISTRATION": os.environ.get("COMPANY_REGISTRATION", "").strip(),
        "COMPANY_VAT_ID": os.environ.get("COMPANY_VAT_ID", "").strip(),
    }


def derive_key(secret: str, purpose: str) -> str:
    """A key for one purpose, derived from SECRET_KEY."""

    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()


# --- checks on the settings in force (environment and create_app's overrides alike) ---------

#: The environment variable behind a config key, where the two differ.
ENV_NAMES = {
    "WTF_CSRF_TIME_LIMIT": "CSRF_TIME_LIMIT",
    "SESSION_COOKIE_SECURE": "COOKIE_SECURE",
    "MAX_FORM_MEMORY_SIZE": "MAX_CONTENT_LENGTH",
}

#: Whole-number settings: (smallest, largest) allowed value; None means no upper bound.
WHOLE_NUMBERS: dict[str, tuple[int, int | None]] = {
    "SUBSCRIPTION_MONTHS": (1, 120),
    "SMTP_PORT": (1, 65535),
    "SMTP_TIMEOUT": (1, None),
    "DEMO_SLOT_MINUTES": (5, 24 * 60),
    "DEMO_DAYS_AHEAD": (1, None),
    "DEMO_SEATS": (1, None),
    "DEMO_BUFFER_MINUTES": (0, 12 * 60),
    "DEMO_MIN_NOTICE_HOURS": (0, None),
    "FORM_MIN_FILL_SECONDS": (0, None),
    "FORM_MAX_AGE_HOURS": (1, None),
    "MAX_CONTENT_LENGTH": (1024, None),
    "MAX_FORM_MEMORY_SIZE": (1024, None),
    "WTF_CSRF_TIME_LIMIT": (60, None),
    "TRUSTED_PROXIES": (0, 10),
    "REQUEST_LINK_HOURS": (1, None),
    "RETENTION_DEMO_MONTHS": (1, None),
    "RETENTION_REQUEST_YEARS": (1, None),
    "RETENTION_UNVERIFIED_DAYS": (1, None),
    "RETENTION_SPAM_DAYS": (1, None),
    "RETENTION_COOKIE_CONSENT_MONTHS": (1, None),
    "RETENTION_AUDIT_YEARS": (AUDIT_MIN_YEARS, None),
    "PAGE_CACHE_SIZE": (0, None),
}

#: Positive decimal settings.
POSITIVE_NUMBERS = ("PRICE_PER_USER_MONTH", "DATABASE_LOCK_TIMEOUT")

#: Settings that hold one e-mail address.
ADDRESSES = ("EMAIL_MARKETING_OPTOUT", "EMAIL_PRIVACY", "EMAIL_CONTACT", "EMAIL_SUPERVISORY_AUTHORITY",
             "MAIL_SALES_TEAM", "MAIL_PRIVACY_TEAM")

_CLOCK_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")


def _bad(key: str, value, what: str) -> ConfigError:
    return ConfigError(f"{ENV_NAMES.get(key, key)} must be {what}, got {value!r}")


def _check_address(key: str, value) -> None:
    if not isinstance(value, str) or "\n" in value or "\r" in value:
        raise _bad(key, value, "an e-mail address")
    try:
        # No DNS; the reserved .test domain is allowed, for test set-ups.
        validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise _bad(key, value, f"an e-mail address ({exc})") from exc


def _check_sender(value) -> None:
    """MAIL_FROM: ``addr`` or ``Name <addr>``, exactly one address."""

    if not isinstance(value, str) or "\n" in value or "\r" in value:
        raise _bad("MAIL_FROM", value, "an e-mail address or 'Name <address>'")
    pairs = getaddresses([value])
    if len(pairs) != 1 or not pairs[0][1]:
        raise _bad("MAIL_FROM", value, "one e-mail address or 'Name <address>'")
    try:
        _check_address("MAIL_FROM", pairs[0][1])
    except ConfigError as exc:
        raise _bad("MAIL_FROM", value, "an e-mail address or 'Name <address>'") from exc


def _check_numbers(config) -> None:
    for key, (low, high) in WHOLE_NUMBERS.items():
        value = config[key]
        if not isinstance(value, int) or isinstance(value, bool):
            raise _bad(key, value, "a whole number")
        if value < low or (high is not None and value > high):
            raise _bad(key, value, f"at least {low}" if high is None else f"from {low} to {high}")
    for key in POSITIVE_NUMBERS:
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal) or not value > 0:
            raise _bad(key, value, "a positive number")


def _check_demo_calendar(config) -> None:
    zone = config["DEMO_TIMEZONE"]
    try:
        if not isinstance(zone, str) or not zone:
            raise ValueError(zone)
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _bad("DEMO_TIMEZONE", zone, "an IANA time zone such as Europe/Stockholm") from exc
    minutes = {}
    for key in ("DEMO_DAY_START", "DEMO_DAY_END"):
        value = config[key]
        match = _CLOCK_TIME.fullmatch(value) if isinstance(value, str) else None
        if not match:
            raise _bad(key, value, "a clock time HH:MM, such as 09:00")
        minutes[key] = int(match[1]) * 60 + int(match[2])
    if minutes["DEMO_DAY_END"] - minutes["DEMO_DAY_START"] < config["DEMO_SLOT_MINUTES"]:
        raise ConfigError(f"DEMO_DAY_END must be at least DEMO_SLOT_MINUTES ({config['DEMO_SLOT_MINUTES']}) "
                          f"after DEMO_DAY_START ({config['DEMO_DAY_START']!r}), got {config['DEMO_DAY_END']!r}")
    days = config["DEMO_WORKDAYS"]
    parts = days.split(",") if isinstance(days, str) else [""]
    if not all(re.fullmatch(r"\s*[1-7]\s*", part) for part in parts):
        raise _bad("DEMO_WORKDAYS", days, "a comma-separated list of ISO weekdays from 1 (Monday) to 7 (Sunday)")
    _check_closures(config)


def _check_closures(config) -> None:
    """DEMO_HOLIDAY_COUNTRY and DEMO_CLOSED_DATES (read by ``demo.closures``)."""
    country = config["DEMO_HOLIDAY_COUNTRY"]
    if not isinstance(country, str) or (country and country not in holidays.list_supported_countries()):
        raise _bad("DEMO_HOLIDAY_COUNTRY", country,
                   "empty or an ISO 3166 country code the holidays package knows, such as SE")
    closed = config["DEMO_CLOSED_DATES"]
    try:
        if not isinstance(closed, str):
            raise ValueError(closed)
        for part in closed.split(","):
            if part.strip():
                date.fromisoformat(part.strip())
    except ValueError as exc:
        raise _bad("DEMO_CLOSED_DATES", closed, "comma-separated ISO dates such as 2026-12-28,2026-12-29") from exc


def _check_rate_limits(config) -> None:
    for key in ("RATELIMIT_FORM_PER_IP", "RATELIMIT_FORM_PER_EMAIL"):
        value = config[key]
        try:
            if not isinstance(value, str) or not parse_many(value):
                raise ValueError(value)
        except ValueError as exc:
            raise _bad(key, value, "a rate limit such as '20 per hour'") from exc
    uri = config["RATELIMIT_STORAGE_URI"]
    scheme = uri.split("://", 1)[0] if isinstance(uri, str) and "://" in uri else ""
    if scheme != "database" and (scheme not in SCHEMES or scheme.startswith("async+")):
        raise _bad("RATELIMIT_STORAGE_URI", uri, "database:// or a storage URI such as redis://host:6379")


def _check_english_formats(value) -> None:
    try:
        locale = Locale.parse(value) if isinstance(value, str) and value else None
    except (UnknownLocaleError, ValueError, TypeError):
        locale = None
    if locale is None or locale.language != "en":
        raise _bad("ENGLISH_FORMAT_LOCALE", value, "an English Babel locale such as en_GB or en_IE")


#: What the company settings with a fixed shape must look like when set.
_COMPANY_PATTERNS = {
    "COMPANY_PHONE": (r"\+?[0-9][0-9 ()./-]{4,29}", "a telephone number such as +46 8 123 456 00"),
    "COMPANY_VAT_ID": (r"[A-Z]{2}[0-9A-Z+*.]{2,13}", "a VAT identification number such as SE556677889901"),
}


def _check_company(config) -> None:
    for key in COMPANY_SETTINGS:
        value = config[key]
        if not isinstance(value, str):
            raise _bad(key, value, "text")
        if not value:
            continue
        if any(ord(char) < 32 and (key != "COMPANY_ADDRESS" or char != "\n") for char in value):
            what = "text without control characters" if key == "COMPANY_ADDRESS" else "one line of text"
            raise _bad(key, value, what)
        if len(value) > 300:
            raise _bad(key, value, "at most 300 characters")
        if key == "COMPANY_EMAIL":
            _check_address(key, value)
        elif key in _COMPANY_PATTERNS:
            pattern, what = _COMPANY_PATTERNS[key]
            if not re.fullmatch(pattern, value):
                raise _bad(key, value, what)


def check_settings(config) -> None:
    """Refuse to start, naming the setting and its value, unless every setting is usable.

    Runs on the settings in force, so values ``create_app`` is given are checked like
    those read from the environment."""

    if config["IPTOR_ENV"] not in {"development", "production"}:
        raise _bad("IPTOR_ENV", config["IPTOR_ENV"], "'development' or 'production'")
    _check_numbers(config)
    _check_demo_calendar(config)
    _check_rate_limits(config)
    for key in ADDRESSES:
        _check_address(key, config[key])
    _check_sender(config["MAIL_FROM"])
    currency = config["PRICE_CURRENCY"]
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency) or not is_currency(currency):
        raise _bad("PRICE_CURRENCY", currency, "an ISO 4217 currency code such as EUR")
    if config["PRICE_TAX_BASIS"] not in {"", "excl_vat", "incl_vat"}:
        raise _bad("PRICE_TAX_BASIS", config["PRICE_TAX_BASIS"], "empty, 'excl_vat' or 'incl_vat'")
    if config["SITE_URL"]:
        checked_site_url(config["SITE_URL"])
    try:
        make_url(config["DATABASE_URL"])
    except ArgumentError as exc:
        raise _bad("DATABASE_URL", config["DATABASE_URL"], "an SQLAlchemy database URL") from exc
    domain = config["COOKIE_DOMAIN"]
    if domain and not (isinstance(domain, str) and _HOST.fullmatch(domain)):
        raise _bad("COOKIE_DOMAIN", domain, "a domain name such as iptor.com")
    if config["IP_STORAGE"] not in {"truncated", "full"}:
        raise _bad("IP_STORAGE", config["IP_STORAGE"], "'truncated' or 'full'")
    for key, pattern in (("GA_MEASUREMENT_ID", r"G-[A-Z0-9]{4,20}"), ("HUBSPOT_PORTAL_ID", r"[0-9]{3,12}")):
        if config[key] and not re.fullmatch(pattern, config[key]):
            raise _bad(key, config[key], f"empty or of the form {pattern}")
    _check_english_formats(config["ENGLISH_FORMAT_LOCALE"])
    _check_company(config)
    key = config["CALENDAR_KEY"]
    if key and (not isinstance(key, str) or len(key) < 32):
        raise _bad("CALENDAR_KEY", "…", "empty or at least 32 characters")
    if not Path(config["LEGAL_DIR"]).is_dir():
        raise _bad("LEGAL_DIR", config["LEGAL_DIR"], "a folder of legal documents")
