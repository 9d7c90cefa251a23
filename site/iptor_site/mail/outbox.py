"""The outbox: every mail the site sends is a row here first.

A message is written to the outbox in the same transaction as the lead it is
about, so a lead is never saved without its mail nor its mail lost with a
failed send: as bytes, or as a recipe (``enqueue_recipe``) that the worker
builds, which keeps rendering out of the submission's transaction. A request
never sends mail: the worker (``flask outbox work``) or ``flask outbox send``
claims what is due, sends it, and retries failures with back-off.
"""

from __future__ import annotations

import json
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import NamedTuple

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from iptor_site.core import clock, scrubbing
from iptor_site.core.database import begin_writing
from iptor_site.mail.messages import Outgoing, envelope_address
from iptor_site.mail.models import OutboxMessage

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
class Claim(NamedTuple):
    """An outbox row a sender holds: what it needs to send the message and record how it went."""

    id: int
    kind: str
    recipient: str
    message: bytes | None
    recipe: str | None
    attempts: int


def enqueue(session: Session, msg: Outgoing, *, kind: str, lead_id: int | None) -> int:
    """Add a message to the outbox in the caller's transaction; returns its row's id.
    The worker sends it once the transaction has committed."""
    return _queue(session, kind=kind, lead_id=lead_id, recipient=msg.recipient, message=msg.raw)


def _queue(session: Session, *, kind: str, lead_id: int | None, recipient: str, message: bytes | None = None,
           recipe: str | None = None, due: datetime | None = None) -> int:
    now = clock.now()
    # Mail ``due`` later (a reminder) waits in the outbox until then.
    row = OutboxMessage(created_at=now, lead_id=lead_id, kind=kind, recipient=recipient, message=message,
                        recipe=recipe, attempts=0, next_attempt_at=due or now)
    session.add(row)
    session.flush()
    return row.id


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
            stamp = clock.now().strftime("%Y%m%dT%H%M%S.%f")  # files sort in the order they were written
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


class Obsolete(Exception):  # noqa: N818 - a state, not a failure
    """Raised by a recipe whose message is no longer wanted (a reminder of a meeting that
    has begun, moved or been cancelled): the row is deleted, not sent or retried."""


@dataclass(frozen=True)
class Recipe:
    """How the sender builds a queued message: ``load`` reads what it needs in a
    read-only transaction once the batch is claimed (no lock on SQLite), ``build``
    renders and encodes it after that read ends, so no transaction waits on it."""

    load: Callable[[Session, dict], object]
    build: Callable[[object, dict], Outgoing]
    #: An action, not a mail: ``build`` does the work itself (a calendar write) and
    #: returns the record kept as the row's message; failures are retried alike.
    action: bool = False


#: Registered recipes, by name (see ``recipe``).
RECIPES: dict[str, Recipe] = {}


def recipe(name: str, load: Callable[[Session, dict], object], *, action: bool = False):
    """Register the decorated ``build(loaded, params) -> Outgoing`` under ``name``."""

    def register(build):
        RECIPES[name] = Recipe(load, build, action)
        return build

    return register


def enqueue_recipe(session: Session, name: str, params: dict, *, to_address: str, kind: str,
                   lead_id: int | None, due: datetime | None = None) -> int:
    """Queue a message that the sender builds from ``params`` with the recipe ``name``.

    What a submission writes under the database's write lock stays small: the
    rendering and MIME encoding happen later, outside any transaction.
    """
    return _queue(session, kind=kind, lead_id=lead_id, recipient=envelope_address(to_address),
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
    except Obsolete:
        raise
    except Exception as exc:  # noqa: BLE001 - a template or data error must not stop the others
        raise BuildError(type(exc).__name__) from exc


def _is_action(loaded) -> bool:
    return isinstance(loaded, tuple) and loaded[0].action


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
    now = now or clock.now()
    result = {"sent": 0, "failed": 0}
    while True:
        due = _due(now)
        if ids is not None:
            due = due.where(OutboxMessage.id.in_(ids))
        if lead_id is not None:
            due = due.where(OutboxMessage.lead_id == lead_id)
        # Look before claiming: an idle worker's rounds only read, so they never wait for
        # (or hold up) a writer; the claim below still decides who sends what.
        found = session.scalar(due.limit(1))
        session.rollback()  # end the read: the claim is a transaction that writes from its start
        if found is None:
            break
        begin_writing(session)
        # SKIP LOCKED (PostgreSQL; SQLite has one writer at a time anyway): a row another
        # worker is claiming right now is left to it. Without it, a second UPDATE that
        # waited on the row would claim it again once the first committed, and send it twice.
        batch = due.limit(BATCH).with_for_update(skip_locked=True)
        claimed = sorted(Claim(*row) for row in session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(batch.scalar_subquery()))
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


def _send(session: Session, claimed: list[Claim], now: datetime, result: dict, stop_on_failure: bool) -> None:
    loaded = {row.id: _load(session, row) for row in claimed if row.message is None}
    session.commit()  # ends the read; unlike a rollback it leaves what was loaded usable
    outcomes = []
    mail_failed = False
    transport = Transport()
    try:
        for row in claimed:
            if stop_on_failure and mail_failed:
                outcomes.append((row, "skipped", None))  # the server is failing: not tried
                continue
            try:
                raw = row.message if row.message is not None else _build(loaded[row.id])
                if not _is_action(loaded.get(row.id)):  # an action's build did its work
                    transport.send(raw, row.recipient, row.id)
            except Obsolete:
                outcomes.append((row, "obsolete", None))
                continue
            except (OSError, smtplib.SMTPException, BuildError) as exc:
                outcomes.append((row, exc, None))
                result["failed"] += 1
                # A calendar that cannot be reached says nothing about the mail server.
                mail_failed = mail_failed or not _is_action(loaded.get(row.id))
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
        # A sent erasure certificate was the last trace of an erased address.
        scrubbing.make_unreadable(session, (OutboxMessage.__tablename__,))


def _record(session: Session, outcomes: list, now: datetime, result: dict) -> None:
    sent, failed, later, gone, dropped = [], [], [], [], []
    for row, error, raw in outcomes:
        if error == "skipped":
            later.append({"id": row.id, "next_attempt_at": now + BACKOFF[0]})
        elif error == "obsolete":
            dropped.append(row.id)
        elif error is not None:
            attempts = row.attempts + 1
            failed.append({"id": row.id, "attempts": attempts, "last_error": f"{type(error).__name__}: {error}"[:1000],
                           "next_attempt_at": now + BACKOFF[min(attempts, len(BACKOFF)) - 1]})
        elif row.kind == EPHEMERAL:
            gone.append(row.id)
        else:
            # A message built by the sender is kept as sent, like one written with its lead.
            sent.append({"id": row.id, "attempts": row.attempts + 1, "sent_at": clock.now(), "last_error": None,
                         "message": raw})
    for changes in (sent, failed, later):
        if changes:
            session.execute(update(OutboxMessage), changes)
    if dropped:
        session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(dropped)))
    if gone:
        session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(gone)))
        result["ephemeral"] = result.get("ephemeral", 0) + len(gone)
