"""The site's two forms. Consent and bot traps come from shared mixins."""

from __future__ import annotations

from functools import cache, lru_cache

from babel import Locale, support
from flask_babel import format_number, get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.i18n import messages_path
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from .antispam import AntiSpamMixin
from .consent import MarketingMixin, PrivacyNoticeMixin
from .i18n import collation_key
from .validation import CleanText, email_address, phone_number, strip

DEMO_FORM_VERSION = "1"
INQUIRY_FORM_VERSION = "1"
MAX_USERS = 10_000


@cache
def _wtforms_messages(locale: str) -> support.Translations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class SiteForm(FlaskForm):
    """A public form. Every message a visitor sees is the site's own (see NOT_OFFERED);
    whatever WTForms might still say comes in the page's language. Flask-WTF reads
    that catalogue from disk for every request; here it is read once per locale."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            return _wtforms_messages(str(get_locale()))


def _length(maximum: int) -> Length:
    return Length(max=maximum, message=_l("Please shorten this to at most %(max)d characters."))


def _required(message):
    return DataRequired(message=message)


def _name_field() -> StringField:
    return StringField(
        _l("Full name"),
        filters=[strip],
        validators=[_required(_l("Enter your name.")), _length(120), CleanText()],
    )


def _email_field(label) -> StringField:
    return StringField(
        label,
        filters=[strip],
        validators=[_required(_l("Enter your e-mail address.")), _length(254), CleanText(), email_address],
    )


def users_count(form, field):
    value = (field.data or "").strip()
    # Its length first: int() refuses a string of more than 4,300 digits with an error.
    if not value.isascii() or not value.isdigit() or len(value) > 9 or not 1 <= int(value) <= MAX_USERS:
        raise ValidationError(
            gettext("Enter a whole number of users from 1 to %(max)s.", max=format_number(MAX_USERS))
        )


#: A value no option of a select offers (a tampered form): our message, in the site's
#: catalogues, not WTForms' ("N'est pas un choix valide." with a straight apostrophe).
NOT_OFFERED = _l("Choose one of the options offered.")


class ChoiceField(SelectField):
    """A select whose "not offered" error is the site's own message."""

    def pre_validate(self, form):
        if self.validate_choice and self.choices is not None and self.data not in {
            choice.value if isinstance(choice, SelectChoice) else choice[0] for choice in self.choices
        }:
            raise ValidationError(NOT_OFFERED)


class CountryField(SelectField):
    """The country select. A code is checked against the set of codes: WTForms would
    build and compare all 250 choices on every submission."""

    def pre_validate(self, form):
        if self.data and self.data not in country_codes(str(get_locale())):
            raise ValidationError(NOT_OFFERED)


class DemoForm(AntiSpamMixin, PrivacyNoticeMixin, MarketingMixin, SiteForm):
    name = _name_field()
    email = _email_field(_l("Work e-mail"))
    company = StringField(
        _l("Company"),
        filters=[strip],
        validators=[_required(_l("Enter your company's name.")), _length(160), CleanText()],
    )
    country = CountryField(
        _l("Country"),
        validators=[_required(_l("Choose your country."))],
    )
    phone = StringField(
        _l("Phone (optional)"),
        filters=[strip],
        validators=[Optional(), _length(40), CleanText(), phone_number],
    )
    users = StringField(
        _l("Number of users"),
        filters=[strip],
        validators=[_required(_l("Enter the number of users.")), _length(6), users_count],
    )
    message = TextAreaField(
        _l("Message (optional)"),
        filters=[strip],
        validators=[Optional(), _length(2000), CleanText(multiline=True)],
    )
    # Radio buttons per day (templates/forms/demo_picker.html), checked against the live calendar by the view.
    slot = StringField(
        _l("Date and time"),
        filters=[strip],
        validators=[_required(_l("Choose a date and time for the demo.")), _length(40)],
    )
    time_zone = HiddenField()

    #: The order the page shows the fields in, for the error summary.
    display_order = ("slot", "name", "email", "company", "country", "phone", "users", "message",
                     "privacy_notice", "marketing")


REQUEST_TYPES = {
    "access": _l("Access to my personal data"),
    "rectification": _l("Rectification of my personal data"),
    "erasure": _l("Erasure of my personal data"),
    "restriction": _l("Restriction of processing of my personal data"),
    "objection": _l("Objection to the processing of my personal data"),
    "portability": _l("Data portability: a copy of my data in a machine-readable format"),
    "marketing-opt-out": _l("No more marketing e-mails (opt-out)"),
    "sb27": _l("California S.B. 27 disclosure request"),
    "complaint": _l("A complaint or another question"),
}
#: Request types that cannot be handled without the person's explanation.
DETAILS_REQUIRED = {"rectification", "objection", "complaint"}


class InquiryForm(AntiSpamMixin, PrivacyNoticeMixin, SiteForm):
    name = _name_field()
    email = _email_field(_l("E-mail address"))
    request_type = ChoiceField(
        _l("Your request"),
        choices=[SelectChoice("", _l("Choose a request type"))]
        + [SelectChoice(value, label) for value, label in REQUEST_TYPES.items()],
        validators=[_required(_l("Choose what you would like us to do."))],
    )
    details = TextAreaField(
        _l("Details"),
        filters=[strip],
        # No Optional(): it would stop the chain before validate_details.
        validators=[_length(5000), CleanText(multiline=True)],
    )
    community = BooleanField(
        _l("This concerns my profile in an Iptor online community."), default=False
    )
    california_resident = BooleanField(
        _l("I confirm that I am a resident of California."), default=False
    )

    display_order = ("name", "email", "request_type", "details", "community", "california_resident",
                     "privacy_notice")
    #: Short names for the error summary where the field's label is a whole sentence
    #: ("… of California." followed by ": message" would read ".:").
    summary_labels = {
        "community": _l("Online community"),
        "california_resident": _l("California residency"),
    }

    def validate_details(self, field):
        if self.request_type.data in DETAILS_REQUIRED and not field.data:
            raise ValidationError(_l("Please describe your request so that we can handle it."))

    def validate_california_resident(self, field):
        if self.request_type.data == "sb27" and not field.data:
            raise ValidationError(
                _l("An S.B. 27 request can only be made by a California resident. Please confirm your residency.")
            )


EXCLUDED_TERRITORIES = {"EU", "EZ", "UN", "ZZ", "QO", "XA", "XB"}


@lru_cache(maxsize=8)
def country_choices(locale: str) -> tuple[tuple[str, str], ...]:
    """ISO 3166 countries and territories, named and sorted in ``locale``'s collation."""
    names = Locale.parse(locale).territories
    countries = [
        (code, name) for code, name in names.items()
        if len(code) == 2 and code.isalpha() and code not in EXCLUDED_TERRITORIES
    ]
    key = collation_key(locale)
    return tuple(sorted(countries, key=lambda pair: (key(pair[1]), pair[0])))


@lru_cache(maxsize=8)
def country_codes(locale: str) -> frozenset[str]:
    """The codes ``country_choices`` offers in ``locale``."""
    return frozenset(code for code, _ in country_choices(locale))
