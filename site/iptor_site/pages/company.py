"""The company-details page (legal notice, Impressum, mentions légales): what the settings say.

A public page like the others (cached, in the sitemap), generated from the COMPANY_*
settings rather than from a legal document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Blueprint, current_app, render_template
from flask_babel import lazy_gettext as _l

from iptor_site.core.settings import COMPANY_SETTINGS
from iptor_site.pages.cache import cached_page

bp = Blueprint("company", __name__, url_prefix="/<locale:lang>")

#: How the page names each setting, in the order the settings list them.
LABELS = {
    "COMPANY_NAME": _l("Company name"),
    "COMPANY_ADDRESS": _l("Postal address"),
    "COMPANY_REPRESENTATIVE": _l("Represented by"),
    "COMPANY_PHONE": _l("Telephone"),
    "COMPANY_EMAIL": _l("E-mail"),
    "COMPANY_REGISTER": _l("Register"),
    "COMPANY_REGISTRATION": _l("Registration number"),
    "COMPANY_VAT_ID": _l("VAT identification number"),
}


@dataclass(frozen=True)
class Detail:
    key: str
    label: str
    lines: tuple[str, ...]
    href: str | None = None


def address_lines(value: str) -> tuple[str, ...]:
    """COMPANY_ADDRESS split into its lines (line breaks or semicolons)."""
    return tuple(line.strip() for line in re.split(r"[;\n]", value) if line.strip())


def details(config) -> list[Detail]:
    """The company details that are set, in the settings' order; unset ones are left out.

    Without COMPANY_EMAIL the general contact address (EMAIL_CONTACT) stands in for it:
    a way to reach the publisher is always known."""
    result = []
    for key in COMPANY_SETTINGS:
        value = config[key] or (config["EMAIL_CONTACT"] if key == "COMPANY_EMAIL" else "")
        if not value:
            continue
        lines = address_lines(value) if key == "COMPANY_ADDRESS" else (value,)
        href = None
        if key == "COMPANY_EMAIL":
            href = "mailto:" + value
        elif key == "COMPANY_PHONE":
            href = "tel:" + re.sub(r"[^0-9+]", "", value)
        result.append(Detail(key, str(LABELS[key]), lines, href))
    return result


@bp.get("/company")
@cached_page
def details_page():
    """Who publishes this site, from the COMPANY_* settings."""
    return render_template("pages/company.html", details=details(current_app.config))
