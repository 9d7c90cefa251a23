"""Outgoing mail through an outbox table.

A message is written to the outbox in the same transaction as the lead it is
about, so a lead is never saved without its mail nor its mail lost with a
failed send: as bytes, or as a recipe (``enqueue_recipe``) that the sender
builds, which keeps rendering out of the submission's transaction. Delivery
happens afterwards: right after the response (``send_pending``), and again by
``flask outbox send`` with back-off for whatever failed.
"""

from __future__ import annotations

import json
import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.charset import QP, Charset
from email.encoders import encode_base64
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from .db import read_only
from .models import OutboxMessage
from .models.base import utcnow

#: Wait before retry N (1-based); the last value repeats.
BACKOFF = [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
           timedelta(hours=2), timedelta(hours=6)]
MAX_ATTEMPTS = 12
#: How long a sender may hold a message before another may try it.
CLAIM = timedelta(minutes=5)
#: Messages deleted from the outbox once sent: the erasure certificate is the last
#: trace of an erased address and must not outlive its delivery.
EPHEMERAL = "erasure-certificate"
#: UTF-8 with quoted-printable bodies and headers: readable in the raw, safe for any server.
UTF8 = Charset("utf-8")
UTF8.header_encoding = UTF8.body_encoding = QP
#: CRLF line ends, as SMTP requires.
SMTP_COMPAT = policy.compat32.clone(linesep="\r\n")
#: Messages claimed at once: few enough to be sent well within ``CLAIM``.
BATCH = 20


@dataclass(frozen=True)
class Outgoing:
    """A message ready for the outbox: its envelope recipient and its bytes."""

    recipient: str
    raw: bytes


def _header(value: str) -> str:
    # The email package of this Python does not refuse line breaks in header values
    # of a compat32 message: a name or subject with one must never add a header.
    if any(char in value for char in "\r\n\0"):
        raise ValueError("a mail header value cannot contain line breaks")
    return value


class _OneLine:
    """A header value the generator writes unfolded: a URL has nowhere to fold, and
    folding before it would start the value with a space."""

    def __init__(self, value: str):
        self.value = _header(value)

    def encode(self, linesep: str = "\n", maxlinelen: int | None = None) -> str:
        return self.value

    def __str__(self) -> str:
        return self.value


def _encoded(value: str, name: str | None = None) -> str | Header:
    # A Header is folded by the generator with the message's own line ends.
    return value if value.isascii() else Header(value, UTF8, header_name=name)


def _addresses(address: str) -> tuple[str, str]:
    """The envelope recipient (IDNA domain) and its form for the To header."""
    local, _, domain = _header(address).rpartition("@")
    if not domain.isascii():
        domain = domain.encode("idna").decode("ascii")
    # A non-ASCII local part can only travel with SMTPUTF8: the envelope keeps it as
    # it is, so a server without SMTPUTF8 refuses it visibly and the outbox retries.
    shown = local if local.isascii() else Header(local, UTF8).encode()
    return f"{local}@{domain}", f"{shown}@{domain}"


def build_message(
    *,
    to_name: str | None,
    to_address: str,
    subject: str,
    body: str,
    locale: str,
    reply_to: str | None = None,
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    unsubscribe_url: str | None = None,
) -> Outgoing:
    """An RFC 5322 message; a name or subject with a line break raises ValueError.

    Built with the email package's compat32 classes, which cost a quarter of the
    modern API's header parsing on every submission.

    Marketing mail passes ``unsubscribe_url``: it gets List-Unsubscribe and the
    one-click List-Unsubscribe-Post of RFC 8058.
    """
    text = MIMEText(body, "plain", UTF8)
    if attachments:
        msg = MIMEMultipart()
        msg.attach(text)
        for filename, mimetype, data in attachments:
            maintype, _, subtype = mimetype.partition("/")
            # Text parts we attach (the .ics) are UTF-8; say so, or clients read ASCII.
            part = MIMEBase(maintype, subtype, **({"charset": "utf-8"} if maintype == "text" else {}))
            part.set_payload(data)
            encode_base64(part)
            part.add_header("Content-Disposition", "attachment", filename=_header(filename))
            msg.attach(part)
    else:
        msg = text
    recipient, shown = _addresses(to_address)
    msg["From"] = _header(current_app.config["MAIL_FROM"])
    msg["To"] = formataddr((_header(to_name), shown), UTF8) if to_name else shown
    msg["Subject"] = _encoded(_header(subject), "Subject")
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(domain="iptor.com")
    msg["Auto-Submitted"] = "auto-generated"
    if reply_to:
        msg["Reply-To"] = _header(reply_to)
    if unsubscribe_url:
        msg["List-Unsubscribe"] = _OneLine(f"<{unsubscribe_url}>")
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Content-Language"] = _header(locale)
    return Outgoing(recipient, msg.as_bytes(policy=SMTP_COMPAT))


def enqueue(session: Session, msg: Outgoing, *, kind: str, lead_id: int | None) -> OutboxMessage:
    """Add a message to the outbox in the caller's transaction."""
    return _queue(session, kind=kind, lead_id=lead_id, recipient=msg.recipient, message=msg.raw)


def _queue(session: Session, *, kind: str, lead_id: int | None, recipient: str, message: bytes | None = None,
           recipe: str | None = None) -> OutboxMessage:
    now = utcnow()
    row = OutboxMessage(
        created_at=now,
        lead_id=lead_id,
        kind=kind,
        recipient=recipient,
        message=message,
        recipe=recipe,
        attempts=0,
        next_attempt_at=now,
    )
    session.add(row)
    return row


def _transport(raw: bytes, recipient: str, row_id: int) -> None:
    config = current_app.config
    if not config["SMTP_HOST"]:
        folder = Path(config["MAIL_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        (folder / f"{stamp}-{row_id:08d}.eml").write_bytes(raw)
        return
    with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=config["SMTP_TIMEOUT"]) as smtp:
        if config["SMTP_STARTTLS"]:
            smtp.starttls()
        if config["SMTP_USERNAME"]:
            smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
        smtp.sendmail(parseaddr(config["MAIL_FROM"])[1], [recipient], raw)


class BuildError(Exception):
    """A message queued as a recipe could not be built; retried like a failed send."""


@dataclass(frozen=True)
class Recipe:
    """How the sender builds a queued message: ``load`` reads what it needs in a
    read-only transaction once the batch is claimed (no lock on SQLite), ``build``
    renders and encodes it after that read ends, so no transaction waits on it."""

    load: Callable[[Session, dict], object]
    build: Callable[[object, dict], Outgoing]


#: Registered recipes, by name (see ``recipe``).
RECIPES: dict[str, Recipe] = {}


def recipe(name: str, load: Callable[[Session, dict], object]):
    """Register the decorated ``build(loaded, params) -> Outgoing`` under ``name``."""

    def register(build):
        RECIPES[name] = Recipe(load, build)
        return build

    return register


def enqueue_recipe(session: Session, name: str, params: dict, *, to_address: str, kind: str,
                   lead_id: int | None) -> OutboxMessage:
    """Queue a message that the sender builds from ``params`` with the recipe ``name``.

    What a submission writes under the database's write lock stays small: the
    rendering and MIME encoding happen later, outside any transaction.
    """
    return _queue(session, kind=kind, lead_id=lead_id, recipient=_addresses(to_address)[0],
                  recipe=json.dumps({"recipe": name, "params": params}))


def _load(session: Session, row) -> tuple[Recipe, dict, object] | BuildError:
    try:
        spec = json.loads(row.recipe)
        recipe, params = RECIPES[spec["recipe"]], spec["params"]
        return recipe, params, recipe.load(session, params)
    except Exception as exc:  # noqa: BLE001 - reported as this message's failure, not the batch's
        return BuildError(type(exc).__name__)


def _build(loaded: tuple[Recipe, dict, object] | BuildError) -> bytes:
    if isinstance(loaded, BuildError):
        raise loaded
    recipe, params, data = loaded
    try:
        return recipe.build(data, params).raw
    except Exception as exc:  # noqa: BLE001 - a template or data error must not stop the others
        raise BuildError(type(exc).__name__) from exc


def deliver(session: Session, ids: list[int] | None = None, now: datetime | None = None, *,
            lead_id: int | None = None, stop_on_failure: bool = False) -> dict:
    """Send what is due (or just ``ids``, or just one lead's mail), a batch at a time.

    A batch is claimed in one statement and its outcomes written in one more, so
    two senders never send the same message, a busy site takes the database's
    write lock twice per batch, and no lock is held while mail is built or sent.
    With ``stop_on_failure`` the first failed message ends the run and the rest
    of its batch waits out the first back-off. Returns counts of sent and failed
    messages.
    """
    now = now or utcnow()
    result = {"sent": 0, "failed": 0}
    while True:
        due = select(OutboxMessage.id).where(
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.attempts < MAX_ATTEMPTS,
        ).order_by(OutboxMessage.id).limit(BATCH)
        if ids is not None:
            due = due.where(OutboxMessage.id.in_(ids))
        if lead_id is not None:
            due = due.where(OutboxMessage.lead_id == lead_id)
        claimed = sorted(session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=now + CLAIM)
            .returning(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.recipient, OutboxMessage.message,
                       OutboxMessage.recipe, OutboxMessage.attempts)
        ).all())
        session.commit()
        if not claimed:
            break
        read_only(session)
        loaded = {row.id: _load(session, row) for row in claimed if row.message is None}
        session.commit()  # ends the read; unlike a rollback it leaves what was loaded usable
        outcomes = []
        for row in claimed:
            if stop_on_failure and result["failed"]:
                outcomes.append((row, "skipped", None))  # the server is failing: not tried
                continue
            try:
                raw = row.message if row.message is not None else _build(loaded[row.id])
                _transport(raw, row.recipient, row.id)
            except (OSError, smtplib.SMTPException, BuildError) as exc:
                outcomes.append((row, exc, None))
                result["failed"] += 1
                # The error's text can name the recipient: the log gets its type only.
                current_app.logger.warning("mail %s not sent (attempt %s): %s", row.id, row.attempts + 1,
                                           exc if isinstance(exc, BuildError) else type(exc).__name__)
            else:
                outcomes.append((row, None, raw))
                result["sent"] += 1
        _record(session, outcomes, now, result)
        session.commit()
        if len(claimed) < BATCH or (stop_on_failure and result["failed"]):
            break
    if result.get("ephemeral"):
        from .dsr import make_unreadable

        make_unreadable(session)
    return result


def _record(session: Session, outcomes: list, now: datetime, result: dict) -> None:
    sent, failed, later, gone = [], [], [], []
    for row, error, raw in outcomes:
        if error == "skipped":
            later.append({"id": row.id, "next_attempt_at": now + BACKOFF[0]})
        elif error is not None:
            attempts = row.attempts + 1
            failed.append({"id": row.id, "attempts": attempts, "last_error": f"{type(error).__name__}: {error}"[:1000],
                           "next_attempt_at": now + BACKOFF[min(attempts, len(BACKOFF)) - 1]})
        elif row.kind == EPHEMERAL:
            gone.append(row.id)
        else:
            # A message built by the sender is kept as sent, like one written with its lead.
            sent.append({"id": row.id, "attempts": row.attempts + 1, "sent_at": utcnow(), "last_error": None,
                         "message": raw})
    for changes in (sent, failed, later):
        if changes:
            session.execute(update(OutboxMessage), changes)
    if gone:
        session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(gone)))
        result["ephemeral"] = result.get("ephemeral", 0) + len(gone)


def deliver_now(session: Session, **options) -> None:
    """``deliver`` right away, for a caller whose own work is already saved: an error
    is logged and leaves the mail in the outbox for ``flask outbox send``."""
    try:
        deliver(session, **options)
    except Exception:  # noqa: BLE001 - what was saved stays in the outbox for a retry
        session.rollback()
        current_app.logger.exception("immediate delivery failed; the outbox will retry")


class Sender:
    """This process's mail sender: one thread at a time sends what is due.

    The thread that finishes a response sends what is due once, if no other is
    at it. Mail queued by other requests meanwhile goes to a background thread,
    started the first time it is needed, so that no request's thread (and the
    keep-alive connection it serves) is kept sending everybody else's mail.
    Whoever holds ``busy`` looks at ``wanted`` after letting go, so queued mail
    is never left waiting for the next request.
    """

    def __init__(self, app: Flask):
        self.app = app
        self.busy = threading.Lock()
        self.wanted = threading.Event()
        self.starting = threading.Lock()
        self.background: threading.Thread | None = None

    def send_pending(self, session: Session) -> None:
        """Send what is due now, unless another thread is at it (it will see ``wanted``)."""
        self.wanted.set()
        if not self.busy.acquire(blocking=False):
            return
        try:
            self._send(session)
        finally:
            self.busy.release()
        if self.wanted.is_set():
            self._start_background()

    def _send(self, session: Session) -> None:
        self.wanted.clear()
        deliver_now(session, stop_on_failure=True)

    def _start_background(self) -> None:
        with self.starting:
            if self.background is None or not self.background.is_alive():
                self.background = threading.Thread(target=self._serve, name="mail-sender", daemon=True)
                self.background.start()

    def _serve(self) -> None:
        from .extensions import db

        while True:
            self.wanted.wait()
            with self.busy, self.app.app_context():
                self._send(db.session)


def send_pending(session: Session) -> None:
    """Send what is due, from one thread of this process at a time (see ``Sender``).

    Called after each response that queued mail. After a failure the rest waits
    for ``flask outbox send``, so a dead mail server costs one attempt.
    """
    current_app.extensions["mail_sender"].send_pending(session)


outbox = AppGroup("outbox", help="Send the mail waiting in the outbox.")


@outbox.command("send")
@with_appcontext
def send_command() -> None:
    """Send every message that is due; failures are retried later with back-off."""
    from .extensions import db

    result = deliver(db.session)
    click.echo(f"sent {result['sent']}, failed {result['failed']}")


def init_app(app: Flask) -> None:
    """The ``flask outbox`` commands, and the one-sender-at-a-time guard of ``send_pending``."""
    app.extensions["mail_sender"] = Sender(app)
    app.cli.add_command(outbox)
