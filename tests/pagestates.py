"""Every public page and form state the site can show, for the validity and accessibility checks."""

from __future__ import annotations

from formhelpers import demo_data, inquiry_data
from iptor_site.i18n import LOCALES

STATIC_PAGES = ["/", "/pricing", "/pricing?users=25", "/pricing?users=abc", "/privacy", "/demo",
                "/privacy/inquiry", "/privacy/inquiry?type=sb27", "/cookies", "/no-such-page"]
#: With the tags configured, every page carries the cookie banner and the checks see it.
TRACKING = {"GA_MEASUREMENT_ID": "G-TEST1234", "HUBSPOT_PORTAL_ID": "1234567"}


def page_states(client, lang: str) -> dict[str, str]:
    """name → HTML for every page and form state in ``lang``."""
    states = {f"{lang}{path}": client.get(f"/{lang}{path}").text for path in STATIC_PAGES}
    page = client.get(f"/{lang}/demo").text
    states[f"{lang}/demo (errors)"] = client.post(f"/{lang}/demo", data=demo_data(
        page, name="", email="not-an-address", users="0", privacy_notice=None)).text
    states[f"{lang}/demo (booked)"] = (
        client.post(f"/{lang}/demo", data=demo_data(page, email=f"{lang}@example.com"))
        and client.get(f"/{lang}/demo/booked").text
    )
    page = client.get(f"/{lang}/privacy/inquiry").text
    states[f"{lang}/privacy/inquiry (errors)"] = client.post(f"/{lang}/privacy/inquiry", data=inquiry_data(
        page, request_type="sb27", privacy_notice=None)).text
    states[f"{lang}/privacy/inquiry (received)"] = (
        client.post(f"/{lang}/privacy/inquiry", data=inquiry_data(page, email=f"{lang}@example.com"))
        and client.get(f"/{lang}/privacy/inquiry/received").text
    )
    return states


def all_states(client) -> dict[str, str]:
    states = {}
    for lang in LOCALES:
        states.update(page_states(client, lang))
    return states
