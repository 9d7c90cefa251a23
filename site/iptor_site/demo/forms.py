"""The demo booking form."""

from __future__ import annotations

from flask_babel import format_number, gettext
from flask_babel import lazy_gettext as _l
from wtforms import (
    HiddenField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Optional, ValidationError

from iptor_site.consent.stamps import MarketingMixin, PrivacyNoticeMixin
from iptor_site.core.validation import CleanText, phone_number, strip
from iptor_site.leads.antispam import AntiSpamMixin
from iptor_site.leads.forms import CountryField, SiteForm, _email_field, _length, _name_field, _required

DEMO_FORM_VERSION = "1"


MAX_USERS = 10_000


def users_count(form, field):
    value = (field.data or "").strip()
    # Its length first: int() refuses a string of more than 4,300 digits with an error.
    if not value.isascii() or not value.isdigit() or len(value) > 9 or not 1 <= int(value) <= MAX_USERS:
        raise ValidationError(
            gettext("Enter a whole number of users from 1 to %(max)s.", max=format_number(MAX_USERS))
        )


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
    # Radio buttons per day (templates/demo/demo_picker.html), checked against the live calendar by the view.
    slot = StringField(
        _l("Date and time"),
        filters=[strip],
        validators=[_required(_l("Choose a date and time for the demo.")), _length(40)],
    )
    time_zone = HiddenField()

    #: The order the page shows the fields in, for the error summary.
    display_order = ("slot", "name", "email", "company", "country", "phone", "users", "message",
                     "privacy_notice", "marketing")
