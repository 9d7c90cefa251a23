"""/healthz names the instance that answered and the state of Redis, for operators behind the proxy."""

import os
import socket

import pytest

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_names_the_host_port_and_process_that_answered(make_app):
    app = make_app(TRUSTED_PROXIES=1)
    # Through a proxy the port the server accepted on is reported, not the forwarded one.
    body = app.test_client().get("/healthz", base_url="http://localhost:5123",
                                 headers={"X-Forwarded-Port": "8443", "X-Forwarded-Proto": "https"}).get_json()
    assert body["instance"] == {"host": socket.gethostname(), "port": 5123, "pid": os.getpid()}
    assert body["status"] == "ok" and body["database"] == "up"
    assert body["redis"] == "not used"


def test_healthz_says_when_redis_is_down_without_failing_the_server(make_app):
    pytest.importorskip("redis")
    app = make_app(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{closed_port()}/0")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["redis"] == "down"


def test_healthz_says_when_redis_is_up(make_app):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must start redis-server for {REDIS_URL} (TEST_REDIS_URL)")
        pytest.skip(f"no Redis at {REDIS_URL} (apt-get install redis-server, or set TEST_REDIS_URL)")
    app = make_app(RATELIMIT_STORAGE_URI=REDIS_URL)
    assert app.test_client().get("/healthz").get_json()["redis"] == "up"


def test_healthz_names_the_instance_when_the_database_is_down(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/no/such/dir/db.sqlite3")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["instance"]["pid"] == os.getpid()
