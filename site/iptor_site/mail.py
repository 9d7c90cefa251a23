"""Outgoing mail through an outbox table.

A message is written to the outbox in the same transaction as the lead it is
about, so a lead is never saved without its mail nor its mail lost with a
failed send. Delivery happens afterwards: right after the request commits,
and again by ``flask outbox send`` with back-off for whatever failed.
"""

from __future__ import annotations

import smtplib
from datetime import datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

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
#: Messages claimed at once: few enough to be sent well within ``CLAIM``.
BATCH = 20


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
) -> EmailMessage:
    """An RFC 5322 message. Header values go through the email package's header
    classes, so a name or subject with line breaks cannot add headers.

    Marketing mail passes ``unsubscribe_url``: it gets List-Unsubscribe and the
    one-click List-Unsubscribe-Post of RFC 8058.
    """
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_FROM"]
    local, _, domain = to_address.rpartition("@")
    msg["To"] = Address(display_name=to_name or "", username=local, domain=domain)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(domain="iptor.com")
    msg["Auto-Submitted"] = "auto-generated"
    if reply_to:
        msg["Reply-To"] = reply_to
    if unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(body)
    for filename, mimetype, data in attachments:
        maintype, _, subtype = mimetype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    # Last: set_content and add_attachment move or drop Content-* headers.
    msg["Content-Language"] = locale
    return msg


def enqueue(session: Session, msg: EmailMessage, *, kind: str, lead_id: int | None) -> OutboxMessage:
    """Add a message to the outbox in the caller's transaction."""
    now = utcnow()
    row = OutboxMessage(
        created_at=now,
        lead_id=lead_id,
        kind=kind,
        recipient=str(msg["To"].addresses[0].addr_spec),
        message=msg.as_bytes(policy=policy.SMTP),  # CRLF line ends, as SMTP requires
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


def deliver(session: Session, ids: list[int] | None = None, now: datetime | None = None, *,
            lead_id: int | None = None) -> dict:
    """Send what is due (or just ``ids``, or just one lead's mail), a batch at a time.

    A batch is claimed in one statement, so two senders never send the same
    message and a busy site takes the database's write lock twice per batch,
    not twice per message. Returns counts of sent and failed messages.
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
        claimed = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=now + CLAIM)
            .returning(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.recipient, OutboxMessage.message,
                       OutboxMessage.attempts)
        ).all()
        session.commit()
        if not claimed:
            break
        for row in sorted(claimed):
            try:
                _transport(row.message, row.recipient, row.id)
            except (OSError, smtplib.SMTPException) as exc:
                attempts = row.attempts + 1
                session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                    attempts=attempts, last_error=f"{type(exc).__name__}: {exc}"[:1000],
                    next_attempt_at=now + BACKOFF[min(attempts, len(BACKOFF)) - 1]))
                result["failed"] += 1
                # The error's text can name the recipient: the log gets its type only.
                current_app.logger.warning("mail %s not sent (attempt %s): %s", row.id, attempts,
                                           type(exc).__name__)
                continue
            result["sent"] += 1
            if row.kind == EPHEMERAL:
                session.execute(delete(OutboxMessage).where(OutboxMessage.id == row.id))
                result["ephemeral"] = result.get("ephemeral", 0) + 1
            else:
                session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                    attempts=row.attempts + 1, sent_at=utcnow(), last_error=None))
        session.commit()
        if len(claimed) < BATCH:
            break
    if result.get("ephemeral"):
        from .dsr import make_unreadable

        make_unreadable(session)
    return result


outbox = AppGroup("outbox", help="Send the mail waiting in the outbox.")


@outbox.command("send")
@with_appcontext
def send_command() -> None:
    """Send every message that is due; failures are retried later with back-off."""
    from .extensions import db

    result = deliver(db.session)
    click.echo(f"sent {result['sent']}, failed {result['failed']}")


def init_app(app: Flask) -> None:
    app.cli.add_command(outbox)
