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
