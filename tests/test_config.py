"""Settings: safe in development, strict in production."""

import pytest

from iptor_site import create_app
from iptor_site.config import ConfigError


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
    from iptor_site.config import load_settings

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
    from iptor_site.config import DEVELOPMENT_SITE_URL
    from iptor_site.rendering import public_url

    monkeypatch.delenv("IPTOR_ENV", raising=False)
    monkeypatch.delenv("SITE_URL", raising=False)
    app = create_app({"SECRET_KEY": "x" * 40})
    assert app.config["SITE_URL"] == ""
    with app.test_request_context("/en/", headers={"Host": "evil.example"}):
        url = public_url("privacy_requests.unsubscribe", lang="en", token="t")
    assert url == f"{DEVELOPMENT_SITE_URL}/en/unsubscribe/t" == "http://127.0.0.1:5000/en/unsubscribe/t"
