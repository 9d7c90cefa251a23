"""The privacy inquiry form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    SelectChoice,
    TextAreaField,
)
from wtforms.validators import ValidationError

from iptor_site.consent.stamps import PrivacyNoticeMixin
from iptor_site.core.validation import CleanText, strip
from iptor_site.leads.antispam import AntiSpamMixin
from iptor_site.leads.forms import ChoiceField, SiteForm, _email_field, _length, _name_field, _required

INQUIRY_FORM_VERSION = "1"


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
