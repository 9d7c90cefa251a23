"""Saving a form submission as a lead: one transaction with its consent stamp and mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app, g, render_template
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from . import consent, dsr, mail, slots
from .demo import manage
from .models import DemoBooking, Lead, PrivacyInquiry, RequestStatusChange, Suppression
from .rendering import public_url
from .webforms import DEMO_FORM_VERSION, INQUIRY_FORM_VERSION, REQUEST_TYPES

TEAM_LOCALE = "en"


class SlotTaken(Exception):
    """Every seat of the chosen slot was booked first by someone else."""


def _lead_values(form, kind: str, now: datetime) -> dict:
    """The lead's row, from the form, before the transaction that writes it."""
    return {
        "kind": kind,
        "created_at": now,
        "locale": g.lang,
        "name": form.name.data,
        "email": form.email.data,
        "email_hash": dsr.email_hash(form.email.data),
        "marketing_opt_in": bool(getattr(form, "marketing", None) and form.marketing.data),
    }


def _add(session: Session, row) -> int:
    """Add ``row`` in the session's transaction and return its new id."""
    session.add(row)
    session.flush()
    return row.id


def _insert_lead(session: Session, lead: dict) -> int:
    if lead["marketing_opt_in"]:
        # Ticking the box again is a new consent: it lifts an earlier opt-out.
        session.execute(delete(Suppression).where(Suppression.email_hash == lead["email_hash"]))
    return _add(session, Lead(**lead))


def person_message(lead: Lead, template: str, subject_key: str, *, reply_to: str | None = None, **context):
    """A mail to the person, in their language (the lead's locale); replies go to the
    privacy team unless ``reply_to`` says otherwise."""
    with force_locale(lead.locale):
        return mail.build_message(
            to_name=lead.name,
            to_address=lead.email,
            subject=str(SUBJECTS[subject_key]),
            body=render_template(template, lead=lead, **context),
            locale=lead.locale,
            reply_to=reply_to or current_app.config["MAIL_PRIVACY_TEAM"],
        )


SUBJECTS = {
    "demo_cancelled": _l("Your Iptor multiflex demo has been cancelled"),
    "request_started": _l("We have started on your privacy request"),
    "request_completed": _l("Your privacy request has been completed"),
    "request_rejected": _l("About your privacy request"),
    "inquiry_received": _l("Please confirm your privacy request"),
    "inquiry_extended": _l("We need more time for your privacy request"),
    "download_ready": _l("Your personal data is ready to download"),
    "erasure_certificate": _l("Your personal data has been erased"),
}


def booking_time(booking: DemoBooking) -> dict[str, str]:
    """The booked slot as the person reads it: their time zone and language."""
    with force_locale(booking.lead.locale):
        return slots.describe(booking.slot_start, booking.time_zone, booking.duration_minutes)


def demo_calendar_file(booking: DemoBooking, details: dict[str, str] | None = None) -> bytes:
    """The booking as an invitation (.ics), in the current locale (see ``demo.manage.invitation``)."""
    return manage.invitation(booking)


def _row_and_lead(model, key: str):
    """A recipe's loader: the ``model`` row whose id is ``params[key]``, with its lead
    loaded into ``row.lead``, so that building the mail needs no query after the read
    ends (a lazy load there would begin a writing transaction)."""

    def load(session: Session, params: dict):
        return session.get(model, params[key], options=[joinedload(model.lead)])

    return load


_load_booking = _row_and_lead(DemoBooking, "booking_id")


@mail.recipe("demo-confirmation", manage.load_booking)
def _demo_confirmation(booking: DemoBooking, params: dict) -> mail.Outgoing:
    """The person's confirmation, in their language and time zone, with the .ics file."""
    lead = booking.lead
    with force_locale(lead.locale):
        context = manage.person_context(booking)  # when, salesperson, meeting link, manage link
        return mail.build_message(
            to_name=lead.name,
            to_address=lead.email,
            subject=gettext("Your Iptor multiflex demo on %(date)s", date=context["when"]["date"]),
            body=render_template("mail/demo_confirmation.txt", lead=lead, booking=booking, **context),
            locale=lead.locale,
            reply_to=current_app.config["MAIL_SALES_TEAM"],
            attachments=(manage.invitation_attachment(manage.invitation(booking), booking.status == "cancelled"),),
        )


@mail.recipe("demo-team", _load_booking)
def _demo_team(booking: DemoBooking, params: dict) -> mail.Outgoing:
    """The sales team's notice, in English and the team's time zone."""
    with force_locale(TEAM_LOCALE):
        team_when = slots.describe(booking.slot_start, current_app.config["DEMO_TIMEZONE"],
                                   booking.duration_minutes)
        return mail.build_message(
            to_name=None,
            to_address=current_app.config["MAIL_SALES_TEAM"],
            subject=f"New demo booking #{booking.id}: {team_when['date']} {team_when['start']}",
            body=render_template("mail/demo_team.txt", lead=booking.lead, booking=booking, when=team_when),
            locale=TEAM_LOCALE,
        )


def _demo_mails(session: Session, booking_id: int, lead_id: int, address: str) -> None:
    mail.enqueue_recipe(session, "demo-confirmation", {"booking_id": booking_id}, to_address=address,
                        kind="demo-confirmation", lead_id=lead_id)
    mail.enqueue_recipe(session, "demo-team", {"booking_id": booking_id},
                        to_address=current_app.config["MAIL_SALES_TEAM"], kind="demo-team", lead_id=lead_id)


def book_demo(session: Session, form, *, slot: datetime, policy_version: str, now: datetime) -> int:
    """Store the lead, its consent stamp, the booking and its mail, in one transaction;
    returns the booking's id.

    Each seat of the slot is tried in its own transaction; the database's unique
    (slot, seat) constraint decides who gets it. Raises SlotTaken when all are gone.
    Everything is gathered before a transaction begins, so that each holds the
    write lock for its statements only.
    """
    lead = _lead_values(form, "demo", now)
    booking = {
        "slot_start": slot,
        "duration_minutes": current_app.config["DEMO_SLOT_MINUTES"],
        "time_zone": form.time_zone.data,
        "company": form.company.data,
        "country": form.country.data,
        "phone": form.phone.data or None,
        "users": int(form.users.data),
        "message": form.message.data or None,
    }
    stamp = consent.prepare_stamp(form, form_name="demo", form_version=DEMO_FORM_VERSION,
                                  policy_version=policy_version, now=now)
    seats = current_app.config["DEMO_SEATS"]
    taken = set()
    if seats > 1:  # with one seat, trying it is the check
        taken = set(session.scalars(select(DemoBooking.seat).where(
            DemoBooking.slot_start == slot, DemoBooking.seat.is_not(None))))
        session.rollback()  # end the read; each attempt below is its own transaction
    for seat in (n for n in range(1, seats + 1) if n not in taken):
        try:
            lead_id = _insert_lead(session, lead)
            booking_id = _add(session, DemoBooking(**booking, lead_id=lead_id, seat=seat))
        except IntegrityError:  # the seat was taken meanwhile
            session.rollback()
            continue
        consent.write_stamp(session, lead_id, stamp)
        _demo_mails(session, booking_id, lead_id, lead["email"])
        manage.schedule_reminders(session, booking_id, lead_id, lead["email"], slot, now)
        session.commit()
        return booking_id
    raise SlotTaken()


def team_inquiry_message(inquiry, *, others=(), erased: dict | None = None, copies: dict | None = None,
                         kept_open: bool = True) -> mail.Outgoing:
    """The privacy team's notice of a verified request (in English, the staff's language):
    its details, the other requests from the same address and, for an erasure, what was
    erased here and which copies outside the site may exist. ``inquiry`` may be a snapshot
    (an erased request is gone from the database when its notice is sent)."""
    lead = inquiry.lead
    with force_locale(TEAM_LOCALE):
        return mail.build_message(
            to_name=None,
            to_address=current_app.config["MAIL_PRIVACY_TEAM"],
            subject=(f"Verified privacy request #{inquiry.id} {inquiry.reference} ({inquiry.request_type}), "
                     f"due {inquiry.due_on.isoformat()}"),
            body=render_template("mail/inquiry_team.txt", lead=lead, inquiry=inquiry, others=others,
                                 erased=erased, copies=copies, kept_open=kept_open, open_statuses=dsr.OPEN,
                                 request_label=REQUEST_TYPES[inquiry.request_type]),
            locale=TEAM_LOCALE,
        )


def team_inquiry_mail(session: Session, inquiry: PrivacyInquiry, **extra) -> None:
    """Tell the privacy team about a verified request, through the outbox."""
    team = team_inquiry_message(inquiry, others=dsr.same_address(session, inquiry), **extra)
    mail.enqueue(session, team, kind="inquiry-team", lead_id=inquiry.lead_id)


@mail.recipe("inquiry-link", _row_and_lead(PrivacyInquiry, "inquiry_id"))
def _inquiry_link_mail(inquiry: PrivacyInquiry, params: dict) -> mail.Outgoing:
    earlier = params.get("earlier")
    return person_message(inquiry.lead, params["template"], params["subject_key"], inquiry=inquiry,
                          link=params["link"], hours=current_app.config["REQUEST_LINK_HOURS"],
                          request_label=REQUEST_TYPES[inquiry.request_type],
                          earlier=earlier and {"reference": earlier["reference"],
                                               "received": datetime.fromisoformat(earlier["received"])})


@dataclass(frozen=True)
class Link:
    """A single-use link made before the transaction that stores it: the mail carries
    the token, the database only its digest."""

    purpose: str
    token: str
    url: str


def new_link(purpose: str, endpoint: str, lang: str) -> Link:
    """A link to ``endpoint`` in ``lang`` with a fresh token for ``purpose``."""
    token = dsr.new_token()
    with force_locale(lang):
        return Link(purpose, token, public_url(endpoint, lang=lang, token=token))


#: The verification link (see ``new_link``) and the mail that carries it (see ``store_link``).
VERIFY_LINK = {"purpose": "verify", "endpoint": "privacy_requests.verify"}
VERIFY_MAIL = {"template": "mail/inquiry_confirmation.txt", "subject_key": "inquiry_received",
               "kind": "inquiry-verification"}


def store_link(session: Session, link: Link, *, inquiry_id: int, lead_id: int, address: str, template: str,
               subject_key: str, kind: str, now: datetime, earlier: dict | None = None) -> None:
    """Store ``link`` for the inquiry and queue the mail that carries it, in the person's
    language; ``earlier`` names an open request of the same type that the mail mentions."""
    dsr.store_token(session, inquiry_id, link.purpose, link.token, now)
    params = {"inquiry_id": inquiry_id, "template": template, "subject_key": subject_key, "link": link.url}
    if earlier:
        params["earlier"] = earlier
    mail.enqueue_recipe(session, "inquiry-link", params, to_address=address, kind=kind, lead_id=lead_id)


def mail_link(session: Session, inquiry: PrivacyInquiry, *, purpose: str, endpoint: str, template: str,
              subject_key: str, kind: str, now: datetime) -> None:
    """Issue a single-use link for ``purpose`` and mail it to the person, in their language."""
    store_link(session, new_link(purpose, endpoint, inquiry.lead.locale), inquiry_id=inquiry.id,
               lead_id=inquiry.lead_id, address=inquiry.lead.email, template=template, subject_key=subject_key,
               kind=kind, now=now)


def _verification_mail(session: Session, inquiry: PrivacyInquiry, now: datetime) -> None:
    mail_link(session, inquiry, now=now, **VERIFY_LINK, **VERIFY_MAIL)


def resend_verification(session: Session, inquiry: PrivacyInquiry, now: datetime) -> None:
    _verification_mail(session, inquiry, now)
    session.commit()


def file_inquiry(session: Session, form, *, policy_version: str, now: datetime) -> str:
    """Store the lead, its consent stamp and the request with its due date and public
    reference, and send the verification link; returns the reference.

    Every submission is its own request, with its own details, name and consent stamp,
    even when the address has an open request of the same type: both requests note the
    other, the privacy team sees them together and the mail tells the person (the page
    tells nobody: it is the same for every address).

    Everything is gathered before the transaction begins with the look for an open
    request, so the write lock is held for the statements only.
    """
    request_type = form.request_type.data
    lead = _lead_values(form, "inquiry", now)
    community = request_type == "erasure" and bool(form.community.data)
    # 55 random bits: a repeat is refused by the unique constraint, and the form then
    # answers "please try again" like any failed save.
    reference = dsr.new_reference()
    inquiry = {
        "reference": reference,
        "request_type": request_type,
        "details": form.details.data or None,
        "california_resident": bool(form.california_resident.data),
        "community": community,
        "received_at": now,
        "due_on": dsr.due_date(now, request_type, community),
        "status": "awaiting_verification",
    }
    stamp = consent.prepare_stamp(form, form_name="privacy-inquiry", form_version=INQUIRY_FORM_VERSION,
                                  policy_version=policy_version, now=now)
    link = new_link(lang=lead["locale"], **VERIFY_LINK)
    earlier = dsr.find_duplicate(session, lead["email"], request_type)
    lead_id = _insert_lead(session, lead)
    inquiry_id = _add(session, PrivacyInquiry(**inquiry, lead_id=lead_id))
    consent.write_stamp(session, lead_id, stamp)
    session.add(RequestStatusChange(
        inquiry_id=inquiry_id, at=now, from_status=None, to_status="awaiting_verification", actor=dsr.SUBJECT,
        reason="received" if earlier is None else
        f"received while request #{earlier.id} {earlier.reference} of the same type is open"))
    if earlier is not None:
        dsr.change_status(session, earlier, earlier.status, actor=dsr.SUBJECT, now=now,
                          reason=f"the same address sent another request of this type: #{inquiry_id} {reference}")
    store_link(session, link, inquiry_id=inquiry_id, lead_id=lead_id, address=lead["email"], now=now,
               earlier=earlier and {"reference": earlier.reference, "received": earlier.received_at.isoformat()},
               **VERIFY_MAIL)
    session.commit()
    return reference
