"""The Base Module's price and the seat estimator's arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from flask_babel import format_currency, format_number, gettext, ngettext


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
            "per_month": gettext("from %(amount)s per month", amount=amounts["per_month"]),
            "per_term": gettext(
                "%(amount)s for a %(months)s-month subscription",
                amount=amounts["per_term"], months=self.term_months,
            ),
        }


def estimate(users: int) -> Estimate:
    """The "from" price for ``users`` seats, per month and per subscription term."""
    price = current_app.config["PRICE_PER_USER_MONTH"]
    months = current_app.config["SUBSCRIPTION_MONTHS"]
    per_month = price * users
    return Estimate(users, price, per_month, per_month * months, months)


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
