"""Settings: safe in development, strict in production."""

import ast
import inspect
import re

import pytest

from iptor_site import create_app
from iptor_site.core import settings
from iptor_site.core.rendering import public_url
from iptor_site.core.settings import DEVELOPMENT_SITE_URL, PROJECT_ROOT, ConfigError, load_settings


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.setenv("IPTOR_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_production_refuses_a_short_secret_key(monkeypatch):
    monkeypatch.setenv("IPTOR_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="32 characters"):
        create_app()


def test_production_uses_secure_cookies(monkeypatch):
    monkeypatch.setenv("IPTOR_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("SITE_URL", "https://www.iptor.test")
    monkeypatch.setenv("TRUSTED_HOSTS", "www.iptor.test")
    assert create_app().config["SESSION_COOKIE_SECURE"] is True


def test_development_key_is_random_and_kept(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("IPTOR_ENV", raising=False)
    first = load_settings(tmp_path)["SECRET_KEY"]
    assert len(first) >= 48
    assert load_settings(tmp_path)["SECRET_KEY"] == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert load_settings(tmp_path / "other")["SECRET_KEY"] != first


@pytest.mark.parametrize(("name", "value"), [("PRICE_PER_USER_MONTH", "abc"), ("PRICE_PER_USER_MONTH", "-1"), ("IPTOR_ENV", "staging")])
def test_invalid_settings_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        create_app()


def production(monkeypatch, **settings):
    """The environment of a production start, with ``settings`` set (None unsets one)."""
    monkeypatch.setenv("IPTOR_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    for name, value in {"SITE_URL": "https://www.iptor.test", "TRUSTED_HOSTS": "www.iptor.test", **settings}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


@pytest.mark.parametrize("name", ["SITE_URL", "TRUSTED_HOSTS"])
@pytest.mark.parametrize("value", [None, "", "  "])
def test_production_refuses_to_start_without_the_sites_address(monkeypatch, name, value):
    """Mailed links are built from SITE_URL alone and requests for other hosts are refused:
    without either, a forged Host header could put an attacker's site into a mail."""
    production(monkeypatch, **{name: value})
    with pytest.raises(ConfigError, match=f"^{name} must be set when IPTOR_ENV=production"):
        create_app()


@pytest.mark.parametrize(("settings", "message"), [
    ({"SITE_URL": "www.iptor.test"}, "SITE_URL must be an http"),
    ({"SITE_URL": "https://www.iptor.test/?next=x"}, "SITE_URL must be an http"),
    ({"SITE_URL": "javascript:alert(1)"}, "SITE_URL must be an http"),
    ({"TRUSTED_HOSTS": "other.iptor.test"}, "TRUSTED_HOSTS must include the host of SITE_URL"),
])
def test_production_refuses_a_site_url_that_is_not_the_sites(monkeypatch, settings, message):
    production(monkeypatch, **settings)
    with pytest.raises(ConfigError, match=message):
        create_app()


def test_production_starts_with_its_address_and_hosts(monkeypatch):
    production(monkeypatch, SITE_URL="https://www.iptor.test/", TRUSTED_HOSTS="www.iptor.test, .iptor.test")
    app = create_app()
    assert app.config["SITE_URL"] == "https://www.iptor.test"
    assert app.config["TRUSTED_HOSTS"] == ["www.iptor.test", ".iptor.test"]


def test_development_builds_mailed_links_on_a_fixed_base_without_site_url(monkeypatch):
    monkeypatch.delenv("IPTOR_ENV", raising=False)
    monkeypatch.delenv("SITE_URL", raising=False)
    app = create_app({"SECRET_KEY": "x" * 40})
    assert app.config["SITE_URL"] == ""
    with app.test_request_context("/en/", headers={"Host": "evil.example"}):
        url = public_url("privacy_requests.unsubscribe", lang="en", token="t")
    assert url == f"{DEVELOPMENT_SITE_URL}/en/unsubscribe/t" == "http://127.0.0.1:5000/en/unsubscribe/t"


# --- every setting is checked at start-up, naming the variable and the bad value ---------------

def config_env_names() -> set[str]:
    """The environment variables settings.py reads: the names passed to os.environ.get and the readers."""


    readers = {"_int", "_decimal", "_bool", "_at_least", "_choice", "_matching"}
    names = set()
    for node in ast.walk(ast.parse(inspect.getsource(settings))):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
            continue
        func = node.func
        is_reader = isinstance(func, ast.Name) and func.id in readers
        is_environ_get = (isinstance(func, ast.Attribute) and func.attr == "get"
                          and isinstance(func.value, ast.Attribute) and func.value.attr == "environ")
        if is_reader or is_environ_get:
            names.add(node.args[0].value)
    return names


BAD_SETTINGS = [
    ("IPTOR_ENV", "staging"),
    ("SITE_URL", "ftp://www.iptor.test"),
    ("COOKIE_SECURE", "sometimes"),
    ("COOKIE_DOMAIN", "iptor com"),
    ("PRICE_PER_USER_MONTH", "abc"),
    ("PRICE_PER_USER_MONTH", "-1"),
    ("PRICE_CURRENCY", "EUX"),
    ("PRICE_CURRENCY", "eur"),
    ("SUBSCRIPTION_MONTHS", "0"),
    ("SUBSCRIPTION_MONTHS", "twelve"),
    ("EMAIL_MARKETING_OPTOUT", "unsubscribe"),
    ("EMAIL_PRIVACY", "privacy@"),
    ("EMAIL_CONTACT", "info at iptor.com"),
    ("EMAIL_SUPERVISORY_AUTHORITY", "imy@@imy.se"),
    ("LEGAL_DIR", "/no/such/legal/folder"),
    ("DATABASE_URL", "not a database url"),
    ("DATABASE_LOCK_TIMEOUT", "0"),
    ("SMTP_PORT", "70000"),
    ("SMTP_STARTTLS", "sometimes"),
    ("SMTP_TIMEOUT", "0"),
    ("MAIL_FROM", "Iptor <no-reply>"),
    ("MAIL_FROM", "a@iptor.com, b@iptor.com"),
    ("MAIL_SALES_TEAM", "sales"),
    ("MAIL_PRIVACY_TEAM", "privacy@iptor"),
    ("DEMO_TIMEZONE", "Europe/Stokholm"),
    ("DEMO_DAY_START", "9am"),
    ("DEMO_DAY_END", "25:00"),
    ("DEMO_DAY_END", "08:00"),
    ("DEMO_SLOT_MINUTES", "0"),
    ("DEMO_DAYS_AHEAD", "0"),
    ("DEMO_WORKDAYS", "1,2,8"),
    ("DEMO_WORKDAYS", "mon,tue"),
    ("DEMO_WORKDAYS", ""),
    ("DEMO_SEATS", "0"),
    ("EMAIL_CHECK_DELIVERABILITY", "perhaps"),
    ("IP_STORAGE", "none"),
    ("FORM_MIN_FILL_SECONDS", "-1"),
    ("FORM_MAX_AGE_HOURS", "0"),
    ("MAX_CONTENT_LENGTH", "0"),
    ("CSRF_TIME_LIMIT", "0"),
    ("CSRF_TIME_LIMIT", "4h"),
    ("RATELIMIT_STORAGE_URI", "memcache://127.0.0.1"),
    ("RATELIMIT_FORM_PER_IP", "lots"),
    ("RATELIMIT_FORM_PER_EMAIL", "5 per fortnight"),
    ("TRUSTED_PROXIES", "-1"),
    ("HSTS", "yes please"),
    ("REQUEST_LINK_HOURS", "0"),
    ("RETENTION_DEMO_MONTHS", "0"),
    ("RETENTION_REQUEST_YEARS", "0"),
    ("RETENTION_UNVERIFIED_DAYS", "-30"),
    ("RETENTION_SPAM_DAYS", "0"),
    ("RETENTION_COOKIE_CONSENT_MONTHS", "0"),
    ("RETENTION_AUDIT_YEARS", "0"),
    ("PAGE_CACHE_SIZE", "-1"),
    ("GA_MEASUREMENT_ID", "UA-12345"),
    ("HUBSPOT_PORTAL_ID", "portal"),
]


@pytest.fixture
def clean_environment(monkeypatch):
    """No setting from the machine's environment: each test sets what it checks."""
    for name in config_env_names():
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(("name", "value"), BAD_SETTINGS)
def test_a_bad_setting_stops_start_up_naming_it_and_its_value(clean_environment, name, value):
    clean_environment.setenv(name, value)
    with pytest.raises(ConfigError) as refused:
        create_app({"SECRET_KEY": "x" * 40})
    message = str(refused.value)
    assert message.startswith(name)
    assert value in message


@pytest.mark.parametrize(("name", "value"), [
    ("DEMO_TIMEZONE", "Mars/Olympus_Mons"),
    ("DEMO_WORKDAYS", "0,1"),
    ("DEMO_SEATS", 0),
    ("SMTP_PORT", "25"),
    ("RATELIMIT_FORM_PER_IP", "often"),
    ("MAIL_SALES_TEAM", "sales@"),
    ("PRICE_CURRENCY", "EURO"),
])
def test_a_bad_value_given_to_create_app_is_refused_too(clean_environment, name, value):
    with pytest.raises(ConfigError) as refused:
        create_app({"SECRET_KEY": "x" * 40, name: value})
    assert str(refused.value).startswith(name)
    assert repr(value) in str(refused.value)


def test_the_defaults_pass_the_checks(clean_environment):
    app = create_app({"SECRET_KEY": "x" * 40})
    assert app.config["DEMO_TIMEZONE"] == "Europe/Stockholm"
    assert app.config["WTF_CSRF_TIME_LIMIT"] == 4 * 3600
    assert app.config["PAGE_CACHE_SIZE"] == 512


def test_every_bad_setting_table_row_names_a_setting_config_reads():
    assert {name for name, _ in BAD_SETTINGS} <= config_env_names()


def test_the_readme_lists_every_setting():
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    listed = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            listed |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split(" | ", 1)[0]))
    assert config_env_names() - listed == set()
