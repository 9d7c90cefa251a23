"""Field validators for what people type into the site's forms."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote_to_bytes

from email_validator import EmailNotValidError, validate_email
from flask import Flask, current_app, g, request
from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

# A tag or comment opener: "<b", "</", "<!", "<?". A lone "<" (as in "a < b") is fine.
MARKUP = re.compile(r"<\s*[A-Za-z/!?]")
REPLACEMENT_CHARACTER = "\ufffd"  # what undecodable bytes (invalid UTF-8) become
INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn"}
# The zero-width non-joiner and joiner are format characters that writing needs: Persian,
# Urdu and Indic names use them between letters, emoji sequences between emoji. Every other
# format character (bidirectional overrides, marks and isolates, zero-width spaces, BOM)
# can disguise text and stays refused.
JOINERS = {"\u200c", "\u200d"}


def _joins_two_characters(value: str, index: int) -> bool:
    """Whether the joiner at ``index`` stands between two visible characters."""
    if index == 0 or index == len(value) - 1:
        return False
    return all(
        not neighbour.isspace() and unicodedata.category(neighbour) not in INVISIBLE
        for neighbour in (value[index - 1], value[index + 1])
    )


class CleanText:
    """Reject control characters, undecodable bytes and HTML; strip surrounding space.

    ``multiline`` allows line breaks and tabs (messages, details).
    """

    def __init__(self, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, form, field):
        value = field.data
        if not isinstance(value, str):
            return
        if REPLACEMENT_CHARACTER in value or field.name in g.get("undecodable_fields", ()):
            raise ValidationError(_l("This field contains characters we cannot read. Please retype it."))
        allowed = {"\n", "\r", "\t"} if self.multiline else set()
        for index, char in enumerate(value):
            if char in allowed or (char in JOINERS and _joins_two_characters(value, index)):
                continue
            if unicodedata.category(char) in INVISIBLE:
                raise ValidationError(_l("This field contains invisible control characters. Please remove them."))
        if MARKUP.search(value):
            raise ValidationError(_l("Please remove the HTML tags (text between < and >) from this field."))


def strip(value):
    return value.strip() if isinstance(value, str) else value


def email_address(form, field):
    """A syntactically valid address; deliverability (DNS) only when the setting asks."""
    value = (field.data or "").strip()
    if not value:
        return
    try:
        result = validate_email(
            value,
            check_deliverability=current_app.config["EMAIL_CHECK_DELIVERABILITY"],
        )
    except EmailNotValidError:
        raise ValidationError(_l("Enter a valid e-mail address, like name@company.com.")) from None
    field.data = result.normalized


PHONE = re.compile(r"^\+?[0-9 ()./-]{5,40}$")


def phone_number(form, field):
    value = (field.data or "").strip()
    if value and (not PHONE.match(value) or sum(c.isdigit() for c in value) < 5):
        raise ValidationError(_l("Enter a phone number with digits, spaces and an optional leading +."))


def _find_undecodable_fields() -> None:
    """Note which urlencoded fields are not valid UTF-8.

    Werkzeug leaves such a value percent-encoded instead of failing, so the raw
    body is read (and cached for the form parser) before anything parses it.
    """
    if request.method != "POST" or request.mimetype != "application/x-www-form-urlencoded":
        return
    names = set()
    for pair in request.get_data(cache=True).split(b"&"):
        key, _, value = pair.partition(b"=")
        try:
            unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            names.add(unquote_to_bytes(key.replace(b"+", b" ")).decode("utf-8", "replace"))
    g.undecodable_fields = frozenset(names)


def init_app(app: Flask) -> None:
    """Register the encoding check; it must run before any hook that reads the form."""
    app.before_request(_find_undecodable_fields)


def parse_users(raw: str | None) -> tuple[int | None, bool]:
    """Read the estimator's user count: ``(value, valid)``.

    An empty field is valid and yields no estimate; anything but a whole
    number from 1 to ESTIMATOR_MAX_USERS is invalid.
    """
    if raw is None or not raw.strip():
        return None, True
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        return None, False
    value = int(text)
    if not 1 <= value <= current_app.config["ESTIMATOR_MAX_USERS"]:
        return None, False
    return value, True
