"""The Base Module's price and the seat estimator's arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from flask_babel import format_currency, format_number, gettext, ngettext
from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Estimate:
    users: int
    per_user_month: Decimal
    per_month: Decimal
    per_term: Decimal
    term_months: int

    def formatted(self) -> dict[str, str]:
        """The amounts as the current locale writes them."""
        currency = current_app.config["PRICE_CURRENCY"]
        return {
            "users": str(self.users),
            "per_user_month": format_currency(self.per_user_month, currency),
            "per_month": format_currency(self.per_month, currency),
            "per_term": format_currency(self.per_term, currency),
        }

    def texts(self) -> dict[str, str]:
        """The estimate as the sentences the pricing page shows, in the current locale."""
        amounts = self.formatted()
        return {
            "summary": ngettext(
                "Estimate for %(users)s user", "Estimate for %(users)s users", self.users,
                users=format_number(self.users),
            ),
            # The price is flat per user: the total is a total, not a "from".
            "per_month": gettext("%(amount)s per month", amount=amounts["per_month"]),
            "per_term": gettext(
                "%(amount)s for a %(months)s-month subscription",
                amount=amounts["per_term"], months=self.term_months,
            ),
        }


def estimate(users: int) -> Estimate:
    """The list price for ``users`` seats, per month and per subscription term."""
    price = current_app.config["PRICE_PER_USER_MONTH"]
    months = current_app.config["SUBSCRIPTION_MONTHS"]
    per_month = price * users
    return Estimate(users, price, per_month, per_month * months, months)


#: What the estimator says about a number of users it cannot estimate, by kind of problem.
USERS_PROBLEMS = {
    "empty": _l("Enter the number of users."),
    "not_a_number": _l("Enter the number of users in digits only, for example 25."),
    "zero": _l("Enter at least 1 user."),
}
#: The estimator's starting value when a link carries no number of users.
DEFAULT_USERS = 10


@dataclass(frozen=True)
class UsersField:
    """The estimator's field as typed: a number to estimate, a problem, or "talk to us".

    ``problem`` is None, "empty", "not_a_number" or "zero"; ``talk`` is true above
    ESTIMATOR_MAX_USERS, where the visitor is offered the demo form instead of an error."""

    raw: str
    users: int | None
    problem: str | None = None
    talk: bool = False
    #: False for the default the page starts with, true for a number from a link or the form.
    given: bool = True

    @property
    def message(self) -> str | None:
        return str(USERS_PROBLEMS[self.problem]) if self.problem else None


def check_users(raw: str | None) -> UsersField:
    """Read the estimator's field the same way for the page, the no-JS form and the live check."""
    if raw is None:
        return UsersField(str(DEFAULT_USERS), DEFAULT_USERS, given=False)
    text = raw.strip()
    if not text:
        return UsersField(raw, None, "empty")
    if not text.isascii() or not text.isdigit():
        return UsersField(raw, None, "not_a_number")
    digits = text.lstrip("0")
    if not digits:
        return UsersField(raw, None, "zero")
    maximum = current_app.config["ESTIMATOR_MAX_USERS"]
    if len(digits) > len(str(maximum)) or int(digits) > maximum:
        return UsersField(raw, None, talk=True)
    return UsersField(raw, int(digits))


def talk_to_us() -> str:
    """The offer shown instead of an estimate above the estimator's maximum."""
    return gettext(
        "The estimator goes up to %(max)s users. For more, talk to us in a free demo.",
        max=format_number(current_app.config["ESTIMATOR_MAX_USERS"]),
    )


#: How the list price is taxed, as PRICE_TAX_BASIS says; unset, the page says nothing.
TAX_NOTES = {
    "excl_vat": _l("Prices exclude VAT."),
    "incl_vat": _l("Prices include VAT."),
}


def tax_note() -> str | None:
    basis = current_app.config["PRICE_TAX_BASIS"]
    return str(TAX_NOTES[basis]) if basis else None
