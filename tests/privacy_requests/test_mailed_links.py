"""Links in mail: they act only on a deliberate POST, once, point only at SITE_URL,
and their tokens never reach the request log."""

import http.cookiejar
import io
import json
import logging
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from formhelpers import at_once, demo_data, inquiry_data, send_outbox, written_mails
from iptor_site.core import clock
from iptor_site.core.extensions import db
from iptor_site.core.requestlog import JsonFormatter
from iptor_site.models import (
    ErasureRecord,
    Lead,
    OutboxMessage,
    PrivacyInquiry,
    RequestStatusChange,
    RequestToken,
    Suppression,
)
from iptor_site.privacy_requests import intake, lifecycle

ADDRESS = "camille.martin@example.com"
DEV_BASE = "http://127.0.0.1:5000"


def text_of(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def link_path(msg, kind: str) -> str:
    """The path of the ``kind`` link in a mail (verify or download), whatever its base."""
    return re.search(rf"https?://[^/\s]+(/[a-z]{{2}}/privacy/requests/{kind}/[A-Za-z0-9_-]+)", text_of(msg)).group(1)


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def file_request(client, request_type: str, lang: str = "en", **kwargs) -> None:
    page = client.get(f"/{lang}/privacy/inquiry", **kwargs).text
    details = "Please stop profiling me." if request_type == "objection" else ""
    response = client.post(f"/{lang}/privacy/inquiry", data=inquiry_data(page, request_type=request_type,
                                                                          details=details), **kwargs)
    assert response.status_code == 303


def confirm(client, path: str, **kwargs):
    """Open the link's page and press its button, as the person does."""
    page = client.get(path, **kwargs)
    assert page.status_code == 200
    return client.post(path, data={"csrf_token": csrf(page.text)}, **kwargs)


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def tokens_used(app, purpose: str) -> list[bool]:
    with app.app_context():
        return [used is not None for used in db.session.scalars(
            select(RequestToken.used_at).where(RequestToken.purpose == purpose).order_by(RequestToken.id))]


def inquiry_status(app) -> str:
    with app.app_context():
        return db.session.scalars(select(PrivacyInquiry.status)).one()


#: Every way a link can be opened that is not the person pressing the page's button.
NOT_DELIBERATE = {
    "GET": lambda client, path: client.get(path),
    "HEAD": lambda client, path: client.head(path),
    "POST without token": lambda client, path: client.post(path, data={}),
    "POST with a forged token": lambda client, path: client.post(path, data={"csrf_token": "forged.token"}),
}


def opened(client, path: str, how: str):
    response = NOT_DELIBERATE[how](client, path)
    if how in {"GET", "HEAD"}:
        assert response.status_code == 200
        assert (response.data == b"") == (how == "HEAD")
    else:
        # The page again, with its button and a localized "nothing has been done yet".
        assert response.status_code == 400
        assert "nothing has been done yet" in response.text and 'name="csrf_token"' in response.text
    return response


# --- 1. only a deliberate POST acts ---------------------------------------------------

@pytest.mark.parametrize("how", NOT_DELIBERATE)
def test_a_verification_link_verifies_only_on_the_pages_post(app, client, tmp_path, how):
    """A link scanner's HEAD used to run the erasure; now only the button's POST does."""
    file_request(client, "erasure")
    path = link_path(written_mails(tmp_path)[0], "verify")
    opened(client, path, how)
    assert inquiry_status(app) == "awaiting_verification"
    assert tokens_used(app, "verify") == [False]
    assert count(app, Lead) == 1 and count(app, ErasureRecord) == 0
    # The link still works for the person.
    response = confirm(client, path)
    assert response.status_code == 303 and response.headers["Location"] == "/en/privacy/requests/done"
    assert count(app, Lead) == 0 and count(app, ErasureRecord) == 1


@pytest.mark.parametrize("how", NOT_DELIBERATE)
def test_a_download_link_hands_over_the_data_only_on_the_pages_post(app, client, tmp_path, how):
    file_request(client, "access")
    assert confirm(client, link_path(written_mails(tmp_path)[0], "verify")).status_code == 303
    path = link_path(written_mails(tmp_path)[-1], "download")
    response = opened(client, path, how)
    assert response.mimetype == "text/html"
    assert inquiry_status(app) == "verified"
    assert tokens_used(app, "download") == [False]
    download = confirm(client, path)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert "my-data.json" in zipfile.ZipFile(io.BytesIO(download.data)).namelist()
    assert inquiry_status(app) == "completed"
    assert tokens_used(app, "download") == [True]


def marketing_lead(app, client) -> str:
    """A demo lead with marketing on; returns the path of its unsubscribe link."""
    page = client.get("/en/demo").text
    assert client.post("/en/demo", data=demo_data(page, email=ADDRESS, marketing="y")).status_code == 303
    with app.app_context():
        return urlsplit(lifecycle.unsubscribe_url(ADDRESS, "en")).path


def marketing_state(app) -> tuple:
    with app.app_context():
        opted_in = db.session.scalars(select(Lead.marketing_opt_in)).one()
    return opted_in, count(app, Suppression)


@pytest.mark.parametrize("how", [*NOT_DELIBERATE, "POST with another field"])
def test_an_unsubscribe_link_unsubscribes_only_on_the_pages_post_or_one_click(app, client, how):
    path = marketing_lead(app, client)
    if how == "POST with another field":
        response = client.post(path, data="List-Unsubscribe=Yes", content_type="application/x-www-form-urlencoded")
        assert response.status_code == 400 and "nothing has been done yet" in response.text
    else:
        opened(client, path, how)
    assert marketing_state(app) == (True, 0)
    done = confirm(client, path)
    assert done.status_code == 200 and "You have been unsubscribed" in done.text
    assert marketing_state(app) == (False, 1)


def test_the_one_click_post_of_rfc_8058_unsubscribes_without_a_page(app, client):
    path = marketing_lead(app, client)
    provider = app.test_client()  # a mail provider: no cookie, no CSRF token, only the URL
    response = provider.post(path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and response.data == b""
    assert marketing_state(app) == (False, 1)


# --- 2. single use, decided by the database ----------------------------------------------

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def burst(server: str, *paths: str, contenders: int = 10) -> list[tuple[int, str, bytes]]:
    """``contenders`` people open a link's page (taking ``paths`` in turn), then all press
    the button at once."""
    barrier = threading.Barrier(contenders)
    results = [None] * contenders

    def press(n):
        path = paths[n % len(paths)]
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                             NoRedirect)
        page = opener.open(server + path).read().decode()
        body = urllib.parse.urlencode({"csrf_token": csrf(page)}).encode()
        barrier.wait(timeout=60)
        try:
            response = opener.open(server + path, data=body)
            results[n] = (response.status, response.headers.get_content_type(), response.read())
        except urllib.error.HTTPError as exc:
            results[n] = (exc.code, exc.headers.get_content_type(), exc.read())

    at_once(press, contenders)
    assert None not in results
    return results


def test_ten_concurrent_posts_of_a_verification_link_mail_one_download_link(app, server, tmp_path):
    file_request(app.test_client(), "access")
    path = link_path(written_mails(tmp_path)[0], "verify")
    results = burst(server, path)
    assert sorted(status for status, _, _ in results) == [303] + [410] * 9
    assert all(b"This link has been used" in body for status, _, body in results if status == 410)
    assert count(app, OutboxMessage, OutboxMessage.kind == "download-link") == 1
    assert count(app, RequestToken, RequestToken.purpose == "download") == 1
    assert count(app, RequestStatusChange, RequestStatusChange.to_status == "verified") == 1


def test_two_verification_links_of_one_request_verify_it_once(app, server, tmp_path):
    """A request can have two live verification links (one sent again, as for a repeated
    submission): pressing both at once verifies it once."""
    client = app.test_client()
    file_request(client, "access")
    with app.test_request_context("/en/"):
        intake.resend_verification(db.session, db.session.scalars(select(PrivacyInquiry)).one(), clock.now())
        db.session.commit()
    send_outbox(app)
    first, second = (link_path(m, "verify") for m in written_mails(tmp_path))
    assert first != second
    results = burst(server, first, second)
    assert sorted(status for status, _, _ in results) == [303] + [410] * 9
    assert count(app, OutboxMessage, OutboxMessage.kind == "download-link") == 1
    assert count(app, RequestStatusChange, RequestStatusChange.to_status == "verified") == 1
    assert client.get(first).status_code == client.get(second).status_code == 410


def test_ten_concurrent_posts_of_a_download_link_serve_one_zip(app, server, tmp_path):
    client = app.test_client()
    file_request(client, "access")
    assert confirm(client, link_path(written_mails(tmp_path)[0], "verify")).status_code == 303
    path = link_path(written_mails(tmp_path)[-1], "download")
    results = burst(server, path)
    assert sorted((status, kind) for status, kind, _ in results) == \
        [(200, "application/zip")] + [(410, "text/html")] * 9
    assert count(app, RequestStatusChange, RequestStatusChange.to_status == "completed") == 1
    assert tokens_used(app, "download") == [True]


@pytest.fixture
def clocked_app(make_app, clock):
    return make_app(CLOCK=clock)


def test_an_expired_link_is_renewed_once(clocked_app, clock, tmp_path):
    app, client = clocked_app, clocked_app.test_client()
    file_request(client, "objection")
    old = link_path(written_mails(tmp_path)[0], "verify")
    clock.now += timedelta(hours=73)
    page = client.get(old)
    assert page.status_code == 410 and "This link has expired" in page.text
    renew = re.search(r'action="([^"]+/renew)"', page.text).group(1)
    token = csrf(page.text)
    assert client.post(renew, data={"csrf_token": token}).status_code == 200
    again = client.post(renew, data={"csrf_token": token})
    assert again.status_code == 410 and "This link has been used" in again.text
    verification = [m for m in written_mails(tmp_path) if "/privacy/requests/verify/" in text_of(m)]
    assert len(verification) == 2
    assert confirm(client, link_path(verification[-1], "verify")).status_code == 303
    assert inquiry_status(app) == "verified"


# --- 3. links point only at SITE_URL ---------------------------------------------------------

URL = re.compile(r"https?://[^\s<>\"]+")


def every_url_in(messages) -> list[str]:
    urls = []
    for msg in messages:
        for name, value in msg.items():
            if name.lower() != "message-id":
                urls += URL.findall(str(value))
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                urls += URL.findall(part.get_content())
    return urls


@pytest.mark.parametrize(("site_url", "base"), [("https://www.iptor.test", "https://www.iptor.test"),
                                                ("", DEV_BASE)], ids=["SITE_URL", "development default"])
def test_mailed_links_never_carry_the_requests_host(make_app, tmp_path, site_url, base):
    """An attacker who files a request with ``Host: evil.example`` gets no link to their host
    into the victim's mail: every link is built on SITE_URL (in development, a fixed base)."""
    app = make_app(SITE_URL=site_url, TRUSTED_HOSTS=None)
    client = app.test_client()
    evil = {"base_url": "http://evil.example"}
    page = client.get("/de/demo", **evil).text
    assert client.post("/de/demo", data=demo_data(page, email=ADDRESS, marketing="y"), **evil).status_code == 303
    mails = []  # read as they arrive: the erasure deletes the person's mail files
    for request_type in ("access", "objection", "erasure"):
        file_request(client, request_type, lang="fr", **evil)
        mails += written_mails(tmp_path)[len(mails):]
        assert confirm(client, link_path(mails[-1], "verify"), **evil).status_code == 303
        if request_type != "erasure":
            mails += written_mails(tmp_path)[len(mails):]
    with app.test_request_context("/en/", base_url="http://evil.example"):
        unsubscribe = lifecycle.unsubscribe_url(ADDRESS, "nl")
    urls = every_url_in(mails) + [unsubscribe]
    assert sum("/privacy/requests/verify/" in u for u in urls) == 3
    assert sum("/privacy/requests/download/" in u for u in urls) == 1
    assert [u for u in urls if not u.startswith(base + "/")] == []


def test_the_export_command_links_on_site_url(make_app):
    app = make_app(SITE_URL="https://www.iptor.test")
    client = app.test_client()
    page = client.get("/en/demo").text
    assert client.post("/en/demo", data=demo_data(page, email=ADDRESS, marketing="y")).status_code == 303
    runner = app.test_cli_runner()
    result = runner.invoke(args=["leads", "export"])
    assert result.exit_code == 0, result.output
    [link] = re.findall(r"https?://[^\"]+", result.output)
    assert link.startswith("https://www.iptor.test/en/unsubscribe/")
    with app.app_context():
        assert link == lifecycle.unsubscribe_url(ADDRESS, "en")
    other = runner.invoke(args=["leads", "export", "--site-url", "https://crm.iptor.test/"])
    assert "https://crm.iptor.test/en/unsubscribe/" in other.output
    refused = runner.invoke(args=["leads", "export", "--site-url", "evil.example"])
    assert refused.exit_code == 2 and "SITE_URL must be an http" in refused.output


# --- 4. the request log holds routes, never tokens ------------------------------------------------

@pytest.mark.slow
def test_the_request_log_holds_routes_and_statuses_never_a_token(clocked_app, clock, tmp_path, caplog, monkeypatch):
    app, client = clocked_app, clocked_app.test_client()
    minted = []
    new_token, unsubscribe_token = lifecycle.new_token, lifecycle.unsubscribe_token

    def minting(make):
        def wrapper(*args):
            minted.append(make(*args))
            return minted[-1]
        return wrapper

    monkeypatch.setattr(lifecycle, "new_token", minting(new_token))
    monkeypatch.setattr(lifecycle, "unsubscribe_token", minting(unsubscribe_token))
    caplog.set_level(logging.DEBUG)

    # Access: the verification and the download link, opened every way, then reused.
    file_request(client, "access")
    verify = link_path(written_mails(tmp_path)[-1], "verify")
    for how in NOT_DELIBERATE:
        opened(client, verify, how)
    assert confirm(client, verify).status_code == 303
    download = link_path(written_mails(tmp_path)[-1], "download")
    for how in NOT_DELIBERATE:
        opened(client, download, how)
    assert confirm(client, download).mimetype == "application/zip"
    assert client.get(download).status_code == 410
    assert client.post(verify, data={}).status_code == 410
    assert client.put(verify).status_code == 405
    assert client.get(verify + "/more").status_code == 404
    # An expired link, renewed.
    file_request(client, "objection")
    expired = link_path(written_mails(tmp_path)[-1], "verify")
    clock.now += timedelta(hours=73)
    page = client.get(expired).text
    assert client.post(expired + "/renew", data={"csrf_token": csrf(page)}).status_code == 200
    assert confirm(client, link_path(written_mails(tmp_path)[-1], "verify")).status_code == 303
    # Unsubscribe: page, button and one-click.
    unsubscribe = marketing_lead(app, client)
    for how in NOT_DELIBERATE:
        opened(client, unsubscribe, how)
    assert confirm(client, unsubscribe).status_code == 200
    assert app.test_client().post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    # Erasure, which deletes the rows the links were stored in, and the person's mail files:
    # the mails are read before it.
    file_request(client, "erasure")
    mails = written_mails(tmp_path)
    assert confirm(client, link_path(mails[-1], "verify")).status_code == 303

    in_mails = {m.group(1) for msg in mails
                for m in re.finditer(r"/privacy/requests/(?:verify|download)/([A-Za-z0-9_-]+)", text_of(msg))}
    assert len(in_mails) == 5 and in_mails <= set(minted)
    assert unsubscribe.rsplit("/", 1)[1] in minted
    lines = [JsonFormatter().format(record) for record in caplog.records]
    lines += [record.getMessage() for record in caplog.records] + [caplog.text]
    for token in minted:
        assert not any(token in line for line in lines), "a token is in the log"
    logged = [json.loads(line) for line in lines[:len(caplog.records)] if '"message": "request"' in line]
    routes = {(r["method"], r["route"], r["status"]) for r in logged}
    assert {("HEAD", "/<lang>/privacy/requests/verify/<token>", 200),
            ("POST", "/<lang>/privacy/requests/verify/<token>", 303),
            ("POST", "/<lang>/privacy/requests/download/<token>", 200),
            ("GET", "/<lang>/privacy/requests/download/<token>", 410),
            ("POST", "/<lang>/privacy/requests/verify/<token>/renew", 200),
            ("POST", "/<lang>/unsubscribe/<token>", 400),
            ("POST", "/<lang>/unsubscribe/<token>", 200),
            ("PUT", None, 405),
            ("GET", "/<path>", 404)} <= routes
    assert all("path" not in r for r in logged)
