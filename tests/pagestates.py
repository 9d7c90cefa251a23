"""Every public page and form state the site can show, for the validity and accessibility checks."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import urlsplit

from formhelpers import demo_data, inquiry_data
from iptor_site.core.locales import LOCALES
from iptor_site.privacy_requests import lifecycle

STATIC_PAGES = ["/", "/pricing", "/pricing?users=25", "/pricing?users=abc", "/pricing?users=20000", "/privacy", "/demo",
                "/privacy/inquiry", "/privacy/inquiry?type=sb27", "/cookies", "/company", "/no-such-page"]
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
    states.update(manage_states(client, lang, f"{lang}@example.com"))
    page = client.get(f"/{lang}/privacy/inquiry").text
    states[f"{lang}/privacy/inquiry (errors)"] = client.post(f"/{lang}/privacy/inquiry", data=inquiry_data(
        page, request_type="sb27", privacy_notice=None)).text
    states[f"{lang}/privacy/inquiry (received)"] = (
        client.post(f"/{lang}/privacy/inquiry", data=inquiry_data(page, email=f"{lang}@example.com"))
        and client.get(f"/{lang}/privacy/inquiry/received").text
    )
    return states


def manage_states(client, lang: str, address: str) -> dict[str, str]:
    """The "manage my booking" page of ``address``'s demo: shown, with an error, cancelled."""
    app = client.application
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default)
             for p in sorted(Path(app.config["MAIL_DIR"]).glob("*.eml"))]
    text = [m.get_body(("plain",)).get_content() for m in mails if address in str(m["To"])][-1]
    path = re.search(rf"https?://[^/\s]+(/{lang}/demo/manage/[A-Za-z0-9_.-]+)", text).group(1)
    shown = client.get(path).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', shown).group(1)
    states = {f"{lang}/demo manage": shown,
              f"{lang}/demo manage (error)": client.post(f"{path}/move", data={
                  "csrf_token": token, "sequence": "0", "slot": ""}).text}
    client.post(f"{path}/cancel", data={"csrf_token": token})
    states[f"{lang}/demo manage (cancelled)"] = client.get(f"{path}?changed=cancelled").text
    return states


def all_states(client) -> dict[str, str]:
    states = {}
    for lang in LOCALES:
        states.update(page_states(client, lang))
    return states


def link_states(client, lang: str) -> dict[str, str]:
    """name → HTML for the pages behind mailed links in ``lang``: each page, the page again
    after a POST without its token, and a used link."""

    app = client.application
    address = f"links.{lang}@example.com"

    def last_link(kind: str) -> str:
        mails = [message_from_bytes(p.read_bytes(), policy=policy.default)
                 for p in sorted(Path(app.config["MAIL_DIR"]).glob("*.eml"))]
        text = [m.get_body(("plain",)).get_content() for m in mails if address in str(m["To"])][-1]
        return re.search(rf"https?://[^/\s]+(/{lang}/privacy/requests/{kind}/[A-Za-z0-9_-]+)", text).group(1)

    def csrf(page: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    page = client.get(f"/{lang}/privacy/inquiry").text
    client.post(f"/{lang}/privacy/inquiry", data=inquiry_data(page, email=address, request_type="access"))
    verify = last_link("verify")
    states = {f"{lang}/verification link": client.get(verify).text,
              f"{lang}/verification link (no token)": client.post(verify, data={}).text}
    client.post(verify, data={"csrf_token": csrf(states[f"{lang}/verification link"])})
    states[f"{lang}/verification link (used)"] = client.get(verify).text
    download = last_link("download")
    states[f"{lang}/download link"] = client.get(download).text
    states[f"{lang}/download link (no token)"] = client.post(download, data={}).text
    with app.app_context():
        unsubscribe = urlsplit(lifecycle.unsubscribe_url(address, lang)).path
    states[f"{lang}/unsubscribe link"] = client.get(unsubscribe).text
    states[f"{lang}/unsubscribe link (no token)"] = client.post(unsubscribe, data={}).text
    states[f"{lang}/unsubscribe link (done)"] = client.post(
        unsubscribe, data={"csrf_token": csrf(states[f"{lang}/unsubscribe link"])}).text
    return states
