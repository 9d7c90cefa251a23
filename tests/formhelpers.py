"""Fill in the site's forms the way a browser would: hidden fields from the page itself."""

from __future__ import annotations

import html
import re
import threading
from email import message_from_bytes, policy

from iptor_site.backoffice import accounts
from iptor_site.core.extensions import db
from iptor_site.mail import outbox


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden inputs of the page's POST form (CSRF token, start token, time zone)."""
    form = re.search(r'<form method="post"[^>]*class="lead-form".*?</form>', page, re.S).group(0)
    fields = {}
    for tag in re.findall(r"<input[^>]*>", form):
        if 'type="hidden"' in tag:
            name = re.search(r'name="([^"]+)"', tag).group(1)
            value = re.search(r'value="([^"]*)"', tag)
            fields[name] = html.unescape(value.group(1)) if value else ""
    return fields


def slot_values(page: str) -> list[str]:
    """The times the page offers: radio buttons of one week (forms/demo_picker.html)."""
    return re.findall(r'<input type="radio" name="slot" id="[^"]+" value="([^"]+)"', page)


def demo_data(page: str, **overrides) -> dict:
    data = hidden_fields(page)
    data.update(
        slot=slot_values(page)[0],
        name="Anna Schmidt",
        email="anna.schmidt@example.com",
        company="Schmidt Logistik GmbH",
        country="DE",
        phone="+49 30 1234567",
        users="25",
        message="Wir möchten die Lagerverwaltung sehen.",
        privacy_notice="y",
        website="",
    )
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def inquiry_data(page: str, **overrides) -> dict:
    data = hidden_fields(page)
    data.update(
        name="Camille Martin",
        email="camille.martin@example.com",
        request_type="access",
        details="",
        privacy_notice="y",
        website="",
    )
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def written_mails(tmp_path) -> list:
    """Every mail written to the test's mail folder (no SMTP server), in the order queued
    (a file is named ``<time>-<outbox id>.eml``; tests move the clock back and forth)."""
    files = sorted((tmp_path / "mail").glob("*.eml"), key=lambda p: int(p.stem.rpartition("-")[2]))
    return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in files]


def mail_text(msg) -> str:
    """The plain-text body of a mail, with Python's line ends."""
    return msg.get_body(("plain",)).get_content().replace("\r\n", "\n")


def mailed_link(msg, kind: str) -> str:
    """The path of the ``kind`` link (verify, download) in a mail, built on the development SITE_URL."""
    found = re.search(rf"http://127\.0\.0\.1:5000(/[a-z]{{2}}/privacy/requests/{kind}/[A-Za-z0-9_-]+)", mail_text(msg))
    return found.group(1)


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def press_the_button(client, path: str, **kwargs):
    """Open a mailed link's page and press its button, as the person does."""
    page = client.get(path, **kwargs)
    assert page.status_code == 200
    return client.post(path, data={"csrf_token": csrf_token(page.text)}, **kwargs)


STAFF_PASSWORD = "correct horse battery staple"


def signed_in_staff(app, email: str, role: str, *, now):
    """A test client signed in to the back-office as a new staff account with ``role``."""
    with app.app_context():
        accounts.create_staff(db.session, email, STAFF_PASSWORD, role, now)
        db.session.commit()
    client = app.test_client()
    page = client.get("/admin/login").text
    response = client.post("/admin/login",
                           data={"csrf_token": csrf_token(page), "email": email, "password": STAFF_PASSWORD})
    assert response.status_code == 303
    return client


def send_outbox(app) -> dict:
    """Send what is due in the outbox, as the worker (``flask outbox work``) does."""
    with app.app_context():
        return outbox.deliver(db.session, stop_on_failure=True)


def at_once(target, count: int, timeout: float = 120) -> None:
    """Run ``target(0)`` … ``target(count - 1)`` in threads started together, and wait
    for all of them (the targets meet at a barrier of their own where timing matters)."""
    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)

