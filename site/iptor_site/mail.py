"""Outgoing mail through an outbox table.

A message is written to the outbox in the same transaction as the lead it is
about, so a lead is never saved without its mail nor its mail lost with a
failed send: as bytes, or as a recipe (``enqueue_recipe``) that the sender
builds, which keeps rendering out of the submission's transaction. Mail queued
while serving a request is written already claimed by this process and handed
to its sender thread the moment the transaction commits (``Sender``); what
fails, or what a process that stopped never sent, is retried with back-off by
``flask outbox send``.
"""

from __future__ import annotations

import atexit
import json
import secrets
import smtplib
import threading
import time
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
from typing import NamedTuple

import click
from flask import Flask, current_app, has_request_context
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session, SessionTransaction

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


class _SMTPPolicy(type(policy.compat32)):
    """compat32 with CRLF line ends, as SMTP requires. A short, printable ASCII header
    value is written as it is: the bytes compat32 folds it to (a test compares them),
    without its Header machinery, which took a tenth of building a message."""

    def _fold(self, name, value, sanitize):
        if (isinstance(value, str) and value.isascii() and value.isprintable()
                and len(name) + 2 + len(value) <= self.max_line_length):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


SMTP_COMPAT = _SMTPPolicy(linesep="\r\n")
#: Messages claimed at once: few enough to be sent well within ``CLAIM``.
BATCH = 20
#: How often a process's sender also looks for mail that is due again (retries).
SWEEP_SECONDS = 60
#: How long a stopping process waits for its sender to finish what it was handed.
DRAIN_SECONDS = 10
#: ``session.info`` key: rows queued in the current transaction for this process's sender.
QUEUED = "iptor_mail_queued"


class Claim(NamedTuple):
    """An outbox row a sender holds: what it needs to send the message and record how it went."""

    id: int
    kind: str
    recipient: str
    message: bytes | None
    recipe: str | None
    attempts: int


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
        # "=_" never occurs in quoted-printable or base64 parts, so the generator need
        # not search the parts for a boundary of its own (a regex compiled per message).
        msg = MIMEMultipart(boundary="=_" + secrets.token_hex(16))
        msg.attach(text)
        for filename, mimetype, data in attachments:
            # "text/calendar; method=REQUEST": parameters after the type (RFC 6047).
            mimetype, *options = (piece.strip() for piece in mimetype.split(";"))
            params = dict(option.split("=", 1) for option in options)
            maintype, _, subtype = mimetype.partition("/")
            # Text parts we attach (the .ics) are UTF-8; say so, or clients read ASCII.
            part = MIMEBase(maintype, subtype, **params, **({"charset": "utf-8"} if maintype == "text" else {}))
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


def enqueue(session: Session, msg: Outgoing, *, kind: str, lead_id: int | None,
            hand_over: bool = True) -> int:
    """Add a message to the outbox in the caller's transaction; returns its row's id.

    In a request it goes to this process's sender when the transaction commits;
    ``hand_over=False`` leaves it due at once, for a caller that sends it itself
    with ``deliver``.
    """
    return _queue(session, kind=kind, lead_id=lead_id, recipient=msg.recipient, message=msg.raw,
                  hand_over=hand_over)


def _queue(session: Session, *, kind: str, lead_id: int | None, recipient: str, message: bytes | None = None,
           recipe: str | None = None, hand_over: bool = True, due: datetime | None = None) -> int:
    now = utcnow()
    # Written already claimed, the row needs no claim of its own: a busy site would
    # otherwise take the database's write lock once more per submission. Should this
    # process stop before sending it, the claim lapses and ``flask outbox send`` does.
    # Mail ``due`` later (a reminder) waits in the outbox until then.
    handed = hand_over and due is None and has_request_context()
    row = OutboxMessage(created_at=now, lead_id=lead_id, kind=kind, recipient=recipient, message=message,
                        recipe=recipe, attempts=0, next_attempt_at=due or (now + CLAIM if handed else now))
    session.add(row)
    session.flush()
    row_id = row.id
    if handed:
        session.info.setdefault(QUEUED, []).append(Claim(row_id, kind, recipient, message, recipe, 0))
    return row_id


class Transport:
    """Where a batch of messages goes: .eml files in MAIL_DIR without SMTP_HOST, else
    one SMTP connection, opened for the first message and kept for the rest of the
    batch (a connection, TLS handshake and login per message would cost more than
    the message). After an error the next message starts a fresh connection."""

    def __init__(self):
        self.config = current_app.config
        self.smtp: smtplib.SMTP | None = None
        self.folder: Path | None = None

    def send(self, raw: bytes, recipient: str, row_id: int) -> None:
        config = self.config
        if not config["SMTP_HOST"]:
            if self.folder is None:
                self.folder = Path(config["MAIL_DIR"])
                self.folder.mkdir(parents=True, exist_ok=True)
            folder = self.folder
            stamp = utcnow().strftime("%Y%m%dT%H%M%S.%f")  # files sort in the order they were written
            (folder / f"{stamp}-{row_id:08d}.eml").write_bytes(raw)
            return
        try:
            if self.smtp is None:
                self.smtp = self._connect()
            self.smtp.sendmail(parseaddr(config["MAIL_FROM"])[1], [recipient], raw)
        except (OSError, smtplib.SMTPException):
            self.close()
            raise

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        smtp = smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=config["SMTP_TIMEOUT"])
        try:
            if config["SMTP_STARTTLS"]:
                smtp.starttls()
            if config["SMTP_USERNAME"]:
                smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self) -> None:
        """End the batch's connection, if it has one."""
        smtp, self.smtp = self.smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


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
                   lead_id: int | None, due: datetime | None = None) -> int:
    """Queue a message that the sender builds from ``params`` with the recipe ``name``.

    What a submission writes under the database's write lock stays small: the
    rendering and MIME encoding happen later, outside any transaction.
    """
    return _queue(session, kind=kind, lead_id=lead_id, recipient=_addresses(to_address)[0],
                  recipe=json.dumps({"recipe": name, "params": params}), due=due)


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


def _due(now: datetime):
    return select(OutboxMessage.id).where(
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.next_attempt_at <= now,
        OutboxMessage.attempts < MAX_ATTEMPTS,
    ).order_by(OutboxMessage.id)


def deliver(session: Session, ids: list[int] | None = None, now: datetime | None = None, *,
            lead_id: int | None = None, stop_on_failure: bool = False) -> dict:
    """Send what is due (or just ``ids``, or just one lead's mail), a batch at a time.

    A batch is claimed in one statement and its outcomes written in one more, so
    two senders never send the same message and no lock is held while mail is
    built or sent. With ``stop_on_failure`` the first failed message ends the run
    and the rest of its batch waits out the first back-off. Returns counts of
    sent and failed messages.
    """
    now = now or utcnow()
    result = {"sent": 0, "failed": 0}
    while True:
        due = _due(now).limit(BATCH)
        if ids is not None:
            due = due.where(OutboxMessage.id.in_(ids))
        if lead_id is not None:
            due = due.where(OutboxMessage.lead_id == lead_id)
        claimed = sorted(Claim(*row) for row in session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=now + CLAIM)
            .returning(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.recipient, OutboxMessage.message,
                       OutboxMessage.recipe, OutboxMessage.attempts)
        ))
        session.commit()
        if not claimed:
            break
        _send(session, claimed, now, result, stop_on_failure)
        if len(claimed) < BATCH or (stop_on_failure and result["failed"]):
            break
    _finish(session, result)
    return result


def send_claimed(session: Session, claimed: list[Claim], now: datetime | None = None) -> dict:
    """Send rows this process already holds (queued in its requests), in one batch:
    one read, then one write for all the outcomes. The first failure stops the
    batch; the rest waits out the first back-off."""
    now = now or utcnow()
    result = {"sent": 0, "failed": 0}
    _send(session, claimed, now, result, stop_on_failure=True)
    _finish(session, result)
    return result


def _send(session: Session, claimed: list[Claim], now: datetime, result: dict, stop_on_failure: bool) -> None:
    loaded = {row.id: _load(session, row) for row in claimed if row.message is None}
    session.commit()  # ends the read; unlike a rollback it leaves what was loaded usable
    outcomes = []
    transport = Transport()
    try:
        for row in claimed:
            if stop_on_failure and result["failed"]:
                outcomes.append((row, "skipped", None))  # the server is failing: not tried
                continue
            try:
                raw = row.message if row.message is not None else _build(loaded[row.id])
                transport.send(raw, row.recipient, row.id)
            except (OSError, smtplib.SMTPException, BuildError) as exc:
                outcomes.append((row, exc, None))
                result["failed"] += 1
                # The error's text can name the recipient: the log gets its type only.
                current_app.logger.warning("mail %s not sent (attempt %s): %s", row.id, row.attempts + 1,
                                           exc if isinstance(exc, BuildError) else type(exc).__name__)
            else:
                outcomes.append((row, None, raw))
                result["sent"] += 1
    finally:
        transport.close()
    _record(session, outcomes, now, result)
    session.commit()


def _finish(session: Session, result: dict) -> None:
    if result.get("ephemeral"):
        from .dsr import make_unreadable

        make_unreadable(session)


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
    """This process's mail sender: one background thread that sends the mail its
    requests commit, so no request's thread (or the connection it serves) waits
    on building or sending mail, or on the database's write lock to record it.

    Rows handed over while it is busy are sent together as the next batch, which
    a busy site records in one transaction for many submissions. Now and then it
    also sends whatever is due again (retries), like ``flask outbox send``.
    """

    def __init__(self, app: Flask):
        self.app = app
        self.changed = threading.Condition()
        self.waiting: list[Claim] = []
        self.sending = False
        self.thread: threading.Thread | None = None
        self.swept = time.monotonic()

    def hand_over(self, claimed: list[Claim]) -> None:
        """Send ``claimed`` (rows this process holds) soon, from the sender's thread."""
        with self.changed:
            self.waiting.extend(claimed)
            self.changed.notify_all()
            # Started on first use, so a server that loads the app before forking
            # workers (gunicorn's preload) gets one thread in each worker.
            if self.thread is None or not self.thread.is_alive():
                if self.thread is None:
                    # A worker that stops (a deploy, a recycled worker) first sends what
                    # it was handed; what is still unsent then goes by its lapsed claim.
                    atexit.register(self.wait_idle, DRAIN_SECONDS)
                self.thread = threading.Thread(target=self._serve, name="mail-sender", daemon=True)
                self.thread.start()

    def wait_idle(self, timeout: float = 10) -> bool:
        """Wait until everything handed over has been sent and recorded; False on timeout."""
        with self.changed:
            return self.changed.wait_for(lambda: not self.waiting and not self.sending, timeout)

    def _serve(self) -> None:
        while True:
            with self.changed:
                self.changed.wait_for(lambda: self.waiting)
                batch, self.waiting = self.waiting[:BATCH], self.waiting[BATCH:]
                self.sending = True
            try:
                with self.app.app_context():
                    self._send(batch)
            finally:
                with self.changed:
                    self.sending = False
                    self.changed.notify_all()

    def _send(self, batch: list[Claim]) -> None:
        from .extensions import db

        session = db.session
        try:
            send_claimed(session, batch)
            if time.monotonic() - self.swept >= SWEEP_SECONDS:
                self.swept = time.monotonic()
                due = session.scalar(_due(utcnow()).limit(1))
                session.commit()
                if due is not None:
                    deliver(session, stop_on_failure=True)
        except Exception:  # noqa: BLE001 - what was not recorded is retried once its claim lapses
            session.rollback()
            current_app.logger.exception("sending mail failed; the outbox will retry")


def _hand_over_on_commit(sender: Sender, sessions) -> None:
    @event.listens_for(sessions, "after_commit")
    def committed(session: Session) -> None:
        queued = session.info.pop(QUEUED, None)
        if queued:
            sender.hand_over(queued)

    @event.listens_for(sessions, "after_transaction_end")
    def ended(session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:
            session.info.pop(QUEUED, None)  # rolled back: those rows were never written


outbox = AppGroup("outbox", help="Send the mail waiting in the outbox.")


@outbox.command("send")
@with_appcontext
def send_command() -> None:
    """Send every message that is due; failures are retried later with back-off."""
    from .extensions import db

    result = deliver(db.session)
    click.echo(f"sent {result['sent']}, failed {result['failed']}")


def init_app(app: Flask) -> None:
    """The ``flask outbox`` commands, and this app's sender, fed by each commit that queued mail."""
    sender = app.extensions["mail_sender"] = Sender(app)
    _hand_over_on_commit(sender, app.extensions["database"])
    app.cli.add_command(outbox)
