"""Building a mail: an RFC 5322 message with the standard library's modern API."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import current_app

from iptor_site.core import clock

#: CRLF line ends and RFC 2047 encoded words for non-ASCII headers, as SMTP requires.
#: Lines up to RFC 5322's limit of 998: folded at 78, the standard library splits two
#: adjacent encoded words at a space and the space is lost to every reader (RFC 2047
#: ignores white space between encoded words); a name (120 characters at most) or one
#: of our subjects never needs a fold below 998. ``refold_source="none"``: a value stored
#: with ``set_raw`` (a URL, which has nowhere to fold) is written as it is.
SMTP = policy.SMTP.clone(max_line_length=998, refold_source="none")
#: For an address whose local part is not ASCII: it can only travel with SMTPUTF8.
SMTP_UTF8 = policy.SMTPUTF8.clone(max_line_length=998, refold_source="none")


@dataclass(frozen=True)
class Outgoing:
    """A message ready for the outbox: its envelope recipient and its bytes."""

    recipient: str
    raw: bytes


def _header(value: str) -> str:
    """``value`` if it can be a header's value; a line break or NUL raises ValueError,
    so a name or subject typed into a form can never add a header."""
    if any(char in value for char in "\r\n\0"):
        raise ValueError("a mail header value cannot contain line breaks")
    return value


def envelope_address(address: str) -> str:
    """The address as the SMTP envelope carries it: the domain in IDNA (ASCII)."""
    local, _, domain = _header(address).rpartition("@")
    if not domain.isascii():
        domain = domain.encode("idna").decode("ascii")
    return f"{local}@{domain}"


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

    Marketing mail passes ``unsubscribe_url``: it gets List-Unsubscribe and the
    one-click List-Unsubscribe-Post of RFC 8058.
    """
    recipient = envelope_address(to_address)
    local, _, domain = recipient.rpartition("@")
    msg = EmailMessage(policy=SMTP if local.isascii() else SMTP_UTF8)
    msg.set_content(body, subtype="plain", charset="utf-8", cte="quoted-printable")  # first: it resets Content-*
    msg["From"] = _header(current_app.config["MAIL_FROM"])
    msg["To"] = Address(display_name=_header(to_name or ""), username=local, domain=domain)
    msg["Subject"] = _header(subject)
    msg["Date"] = format_datetime(clock.now())
    msg["Message-ID"] = make_msgid(domain="iptor.com")
    msg["Auto-Submitted"] = "auto-generated"
    if reply_to:
        msg["Reply-To"] = _header(reply_to)
    if unsubscribe_url:
        msg.set_raw("List-Unsubscribe", f"<{_header(unsubscribe_url)}>")
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for filename, mimetype, data in attachments:
        # "text/calendar; method=REQUEST": parameters after the type (RFC 6047).
        mimetype, *options = (piece.strip() for piece in mimetype.split(";"))
        params = dict(option.split("=", 1) for option in options)
        maintype, _, subtype = mimetype.partition("/")
        # Text parts we attach (the .ics) are UTF-8; say so, or clients read ASCII.
        if maintype == "text":
            params["charset"] = "utf-8"
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=_header(filename), params=params)
    # Last: adding an attachment moves the body's Content-* headers into its part.
    msg["Content-Language"] = _header(locale)
    return Outgoing(recipient, msg.as_bytes())
