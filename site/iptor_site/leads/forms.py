"""The site's two forms. Consent and bot traps come from shared mixins."""

from __future__ import annotations

from functools import cache, lru_cache

from babel import Locale, support
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.i18n import messages_path
from wtforms.validators import DataRequired, Length, ValidationError

from iptor_site.core.locales import collation_key
from iptor_site.core.validation import CleanText, email_address, strip


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
