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
from sqlalchemy import select, update
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


def deliver(session: Session, ids: list[int] | None = None, now: datetime | None = None) -> dict:
    """Send what is due (or just ``ids``), one message per transaction.

    Each message is claimed first, so two senders never send the same one.
    Returns counts of sent and failed messages.
    """
    now = now or utcnow()
    query = select(OutboxMessage.id).where(
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.next_attempt_at <= now,
        OutboxMessage.attempts < MAX_ATTEMPTS,
    ).order_by(OutboxMessage.id)
    if ids is not None:
        query = query.where(OutboxMessage.id.in_(ids))
    due = session.scalars(query).all()
    session.commit()
    result = {"sent": 0, "failed": 0}
    for row_id in due:
        claimed = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.sent_at.is_(None),
                   OutboxMessage.next_attempt_at <= now)
            .values(next_attempt_at=now + CLAIM)
        ).rowcount
        session.commit()
        if not claimed:
            continue
        row = session.get(OutboxMessage, row_id)
        try:
            _transport(row.message, row.recipient, row.id)
        except (OSError, smtplib.SMTPException) as exc:
            row.attempts += 1
            row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            row.next_attempt_at = now + BACKOFF[min(row.attempts, len(BACKOFF)) - 1]
            result["failed"] += 1
            # The error's text can name the recipient: the log gets its type only.
            current_app.logger.warning("mail %s not sent (attempt %s): %s", row.id, row.attempts,
                                       type(exc).__name__)
        else:
            row.attempts += 1
            row.sent_at = utcnow()
            row.last_error = None
            result["sent"] += 1
            if row.kind == EPHEMERAL:
                session.delete(row)
                result.setdefault("ephemeral", 0)
                result["ephemeral"] += 1
        session.commit()
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
