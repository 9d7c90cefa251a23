"""The production shape under faults: nginx with TLS in front of two app servers, PostgreSQL,
Redis and two outbox workers, all started by deploy/cluster.py (`make cluster`).

The tests run in this file's order: the last one stops the cluster and checks that
nothing it started is left."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import threading
import time
import traceback
import uuid
from collections import Counter
from http.client import HTTPException
from pathlib import Path

import pytest
from sqlalchemy import text

from clusterhelpers import inquiry
from formhelpers import hidden_fields

pytestmark = pytest.mark.cluster

STAFF_PASSWORD = "correct horse battery staple"


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def stored(cluster, emails) -> Counter:
    """How many leads each of ``emails`` has in PostgreSQL."""
    with cluster.engine.connect() as conn:
        rows = conn.execute(text("SELECT email FROM leads WHERE email = ANY(:emails)"), {"emails": list(emails)})
        return Counter(row.email for row in rows)


def wait_for_outbox(cluster, timeout=120) -> None:
    """Until the outbox workers have sent everything that is due (a guard against a hang, not a measure)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with cluster.engine.connect() as conn:
            # A booking's reminders wait for their time (the day and the hour before the demo).
            if not conn.execute(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL "
                                     "AND kind NOT LIKE 'demo-reminder%'")).scalar():
                return
        time.sleep(0.5)
    pytest.fail("the outbox workers did not send everything")


def test_headers_through_the_proxy_are_the_apps(cluster):
    visitor = cluster.visitor()
    page = visitor.get("/en/")
    assert page.status == 200
    assert "frame-ancestors 'none'" in page.header("Content-Security-Policy")
    assert page.header("Strict-Transport-Security") == "max-age=31536000; includeSubDomains"
    assert page.header("X-Content-Type-Options") == "nosniff"
    form = visitor.get("/en/demo")
    session_cookie = next(c for c in form.all("Set-Cookie") if c.startswith("session="))
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie


def test_nginx_offers_http2_over_tls_with_the_pinned_certificate(cluster):
    context = ssl.create_default_context(cafile=cluster.state["cert"])  # its own: the others speak HTTP/1.1
    context.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", cluster.port)) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.selected_alpn_protocol() == "h2"
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}


def test_the_micro_cache_keys_on_the_page_never_on_a_session(cluster):
    path = "/nl/pricing"  # asked for by no other test
    first = cluster.visitor().get(path)
    assert first.header("Cache-Control") == "public, max-age=60"
    assert first.header("X-Cache") == "MISS"
    assert cluster.visitor().get(path).header("X-Cache") == "HIT"
    # A visitor with a session (and any other cookie) gets the same shared copy...
    with_session = cluster.visitor()
    with_session.get("/en/demo")
    assert "session" in with_session.cookies
    with_session.cookies["other"] = "1"
    assert with_session.get(path).header("X-Cache") == "HIT"
    # ...while another language cookie, consent category or Sec-GPC is a page of its own.
    for cookies, headers in (({"lang": "fr"}, {}), ({"iptor_consent": "v1." + "a" * 32 + ".analytics.2026-01.1790000000"}, {}),
                             ({}, {"Sec-GPC": "1"})):
        visitor = cluster.visitor()
        visitor.cookies.update(cookies)
        assert visitor.get(path, headers=headers).header("X-Cache") == "MISS"
        assert visitor.get(path, headers=headers).header("X-Cache") == "HIT"
    # Forms, the back-office and addresses with a query string are never cached.
    for uncached in ("/en/demo", "/admin/login", "/nl/pricing?x=1"):
        visitor = cluster.visitor()
        visitor.get(uncached)
        assert visitor.get(uncached).header("X-Cache") != "HIT"


def test_the_client_address_recorded_is_the_real_ones_truncated(cluster):
    email = f"ip-{uuid.uuid4().hex[:8]}@example.com"
    visitor = cluster.visitor("127.23.45.67")
    # What the client claims in X-Forwarded-For is not believed: nginx sets it from the connection.
    page = visitor.get("/en/privacy/inquiry", headers={"X-Forwarded-For": "203.0.113.9"})
    data = hidden_fields(page.text)
    data.update(name="Camille Martin", email=email, request_type="access", details="", privacy_notice="y",
                website="")
    answer = visitor.post("/en/privacy/inquiry", data, headers={"X-Forwarded-For": "203.0.113.9"})
    assert answer.status == 303
    with cluster.engine.connect() as conn:
        address = conn.execute(text("SELECT s.ip_address FROM consent_stamps s JOIN leads l ON l.id = s.lead_id "
                                    "WHERE l.email = :email"), {"email": email}).scalar_one()
    assert address == "127.23.45.0"


def test_requests_are_spread_over_both_app_servers(cluster):
    visitor = cluster.visitor()
    answered = [visitor.get("/healthz").json() for _ in range(8)]
    assert all(a["status"] == "ok" and a["database"] == "up" and a["redis"] == "up" for a in answered)
    assert {a["instance"]["port"] for a in answered} == set(cluster.app_ports.values())


def test_a_staff_sign_in_on_one_server_is_honoured_by_the_other_and_sign_out_ends_it_on_both(cluster):
    email = f"staff-{uuid.uuid4().hex[:8]}@example.com"
    cluster.flask("staff", "create", email, "--role", "admin", "--password-stdin", stdin=STAFF_PASSWORD + "\n")
    staff = cluster.visitor("127.8.8.8")
    login = staff.get("/admin/login", server="app1")
    signed_in = staff.post("/admin/login", {"csrf_token": csrf(login.text), "email": email,
                                            "password": STAFF_PASSWORD}, server="app1")
    assert signed_in.status == 303
    kept = dict(staff.cookies)  # a copy of the signed-in cookie, as a second tab would hold
    dashboard = staff.get("/admin/", server="app2")
    assert dashboard.status == 200
    signed_out = staff.post("/admin/logout", {"csrf_token": csrf(dashboard.text)}, server="app2")
    assert signed_out.status == 303
    copy = cluster.visitor("127.8.8.8")
    copy.cookies = kept
    for server in ("app1", "app2"):
        answer = copy.get("/admin/", server=server)
        assert answer.status in {302, 303} and "/admin/login" in answer.header("Location")


def test_rate_limits_are_shared_whichever_server_answers(cluster):
    """The documented 20 submissions an hour per client address, counted in Redis: ten on
    each server are accepted, the next one on either is refused."""
    address = "127.77.1.9"
    results = []
    for n in range(20):
        server = ("app1", "app2")[n % 2]
        answer = inquiry(cluster.visitor(address), f"limit-{uuid.uuid4().hex[:8]}@example.com", server=server,
                         form_server=server)
        results.append(answer.status)
    assert results == [303] * 20
    for server in ("app1", "app2"):
        answer = inquiry(cluster.visitor(address), f"limit-{uuid.uuid4().hex[:8]}@example.com", server=server,
                         form_server=server)
        assert answer.status == 429


def test_a_race_for_one_demo_slot_through_both_servers_has_one_winner(cluster):
    racers = 8
    visitors, forms = [], []
    for n in range(racers):
        visitor = cluster.visitor(f"127.60.{n}.1")
        page = visitor.get("/en/demo", server=("app1", "app2")[n % 2])
        assert page.status == 200
        visitors.append(visitor)
        forms.append(page.text)
    slot = re.search(r'<input type="radio" name="slot" id="[^"]+" value="([^"]+)"', forms[0]).group(1)
    barrier = threading.Barrier(racers)
    answers = [None] * racers

    def race(n):
        data = hidden_fields(forms[n])
        data.update(slot=slot, name="Anna Schmidt", email=f"race-{n}-{uuid.uuid4().hex[:6]}@example.com",
                    company="Schmidt Logistik GmbH", country="DE", phone="", users="25", message="",
                    privacy_notice="y", website="")
        barrier.wait()
        answers[n] = visitors[n].post("/en/demo", data, server=("app1", "app2")[n % 2]).status

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [303] + [409] * (racers - 1)


class Load:
    """A mixed load through nginx: GETs of public pages, forms and /healthz, and privacy
    requests sent from many client addresses (each under the per-address limit)."""

    def __init__(self, cluster, getters=3, posters=3):
        self.cluster = cluster
        self.stop = threading.Event()
        self.get_errors, self.gets = [], 0
        self.accepted, self.refused, self.sent = [], [], []
        self.lock = threading.Lock()
        self.crashes = []
        self.threads = [threading.Thread(target=self._guarded, args=(self._get, n)) for n in range(getters)]
        self.threads += [threading.Thread(target=self._guarded, args=(self._post, n)) for n in range(posters)]
        self.run = uuid.uuid4().hex[:6]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(120)

    def _guarded(self, body, n):
        try:
            body(n)
        except Exception as exc:  # noqa: BLE001 - reported by the test

            self.crashes.append(traceback.format_exc())
            raise AssertionError(str(exc)) from exc

    def _get(self, n):
        paths = ["/en/", "/de/pricing", "/fr/privacy", "/en/demo", "/healthz", "/en/privacy/inquiry"]
        i = 0
        while not self.stop.is_set():
            path = paths[i % len(paths)]
            if path == "/en/":
                path = f"/en/?n={n}-{i}"  # never from the cache: it reaches an app server
            i += 1
            try:
                status = self.cluster.visitor(f"127.90.{n}.1").get(path).status
            except (OSError, HTTPException) as exc:
                status = repr(exc)
            with self.lock:
                self.gets += 1
                if status != 200 and not (path == "/healthz" and status == 503):
                    self.get_errors.append((path, status))

    def _post(self, n):
        i = 0
        while not self.stop.is_set():
            i += 1
            email = f"load-{self.run}-{n}-{i}@example.com"
            visitor = self.cluster.visitor(f"127.{100 + n}.{i // 200}.{i % 200 + 1}")
            try:
                page = visitor.get("/en/privacy/inquiry")
            except (OSError, HTTPException) as exc:
                with self.lock:
                    self.get_errors.append(("/en/privacy/inquiry", repr(exc)))
                continue
            if page.status != 200:
                with self.lock:
                    self.get_errors.append(("/en/privacy/inquiry", page.status))
                continue
            data = hidden_fields(page.text)
            data.update(name="Camille Martin", email=email, request_type="access", details="",
                        privacy_notice="y", website="")
            with self.lock:
                self.sent.append(email)
            try:
                answer = visitor.post("/en/privacy/inquiry", data)
            except (OSError, HTTPException):
                continue  # no answer: it may or may not have been stored, never twice
            with self.lock:
                (self.accepted if answer.status == 303 else self.refused).append((email, answer))


def test_an_app_server_killed_mid_load_loses_no_get_no_accepted_lead_and_no_mail(cluster):
    assert {"outbox1", "outbox2"} <= set(cluster.refresh()["pids"])  # two workers compete for the mail
    victim = cluster.state["pids"]["app1"]
    with Load(cluster) as load:
        time.sleep(6)
        os.killpg(victim, signal.SIGKILL)  # the whole server: its gunicorn master and workers
        time.sleep(14)
    assert load.crashes == []
    assert load.gets > 50
    assert load.get_errors == []
    accepted = [email for email, _ in load.accepted]
    assert accepted, "no POST was accepted"
    counts = stored(cluster, load.sent)
    assert all(counts[email] == 1 for email in accepted)
    assert set(counts.values()) <= {1}
    # Every lead stored got its one mail (the confirmation link), from one of the two workers.
    wait_for_outbox(cluster)
    received = Counter(cluster.inbox.recipients)
    assert all(received[email] == 1 for email in counts), {e: received[e] for e in counts if received[e] != 1}


def test_postgresql_restarted_during_load_gives_503_with_the_form_kept_and_recovers(cluster):
    with Load(cluster, getters=1, posters=2) as load:
        time.sleep(3)
        visitor = cluster.visitor("127.44.0.1")
        page = visitor.get("/en/privacy/inquiry")
        data = hidden_fields(page.text)
        email = f"while-down-{uuid.uuid4().hex[:8]}@example.com"
        data.update(name="Camille Martin", email=email, request_type="access", details="Keep this text.",
                    privacy_notice="y", website="")
        cluster.postgres("stop")
        try:
            down = visitor.post("/en/privacy/inquiry", data)
            assert down.status == 503
            assert email in down.text and "Keep this text." in down.text
        finally:
            cluster.postgres("start")
        # Both servers find the database again by themselves: their pools test each
        # connection before use (pre-ping), so the first form sent to each is accepted.
        deadline = time.monotonic() + 60
        for server in ("app1", "app2"):
            while cluster.visitor().get("/healthz", server=server).status != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            answer = inquiry(cluster.visitor(f"127.45.{len(server)}.{server[-1]}"),
                             f"after-{server}-{uuid.uuid4().hex[:8]}@example.com", server=server, form_server=server)
            assert answer.status == 303
        time.sleep(2)
    assert load.crashes == []
    accepted = [email for email, _ in load.accepted]
    counts = stored(cluster, load.sent)
    assert accepted and all(counts[email] == 1 for email in accepted)
    assert set(counts.values()) <= {1}
    assert {answer.status for _, answer in load.refused} <= {503}


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process. A zombie has ended: it waits only for its parent
    to collect its exit status, which for the postmaster (started by pg_ctl, which exits)
    is the machine's init, whenever it gets round to it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_stopping_the_cluster_leaves_nothing_behind(cluster):
    state = cluster.refresh()
    workdir = Path(state["cert"]).parent
    postmaster = int((Path(state["postgres"]["data"]) / "postmaster.pid").read_text().split()[0])
    pids = [*state["pids"].values(), postmaster]
    assert cluster.stop() == 0
    assert [pid for pid in pids if running(pid)] == []
    assert not workdir.exists()

    for port in (cluster.port, *cluster.app_ports.values(), state["postgres"]["port"], state["redis_port"]):
        with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
            sock.connect(("127.0.0.1", port))
