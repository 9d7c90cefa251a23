"""'Send me a new link' mails the person: renewals count under the form limits."""

import re
from datetime import timedelta

import pytest

from formhelpers import hidden_fields, inquiry_data, written_mails

ADDRESS = "camille.martin@example.com"


@pytest.fixture
def app(make_app, clock):
    return make_app(CLOCK=clock, RATELIMIT_FORM_PER_EMAIL="3 per hour", RATELIMIT_FORM_PER_IP="1000 per hour")


def verification_links(tmp_path) -> list[str]:
    found = []
    for msg in written_mails(tmp_path):
        match = re.search(r"https?://[^/\s]+(/en/privacy/requests/verify/[A-Za-z0-9_-]+)",
                          msg.get_body(("plain",)).get_content())
        if match:
            found.append(match.group(1))
    return found


def renew_newest(client, clock, tmp_path):
    """Let the newest link expire, then press 'send me a new link' on its page."""
    clock.now += timedelta(hours=73)
    page = client.get(verification_links(tmp_path)[-1])
    assert page.status_code == 410
    action = re.search(r'action="([^"]+/renew)"', page.text).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post(action, data={"csrf_token": token})


def file_request(client, **fields):
    page = client.get("/en/privacy/inquiry").text
    return client.post("/en/privacy/inquiry", data=inquiry_data(page, email=ADDRESS, **fields))


def test_renewals_count_against_the_addresss_form_limit(app, clock, tmp_path):
    client = app.test_client()
    assert file_request(client).status_code == 303  # the address's first of three this hour
    assert renew_newest(client, clock, tmp_path).status_code == 200  # second
    assert renew_newest(client, clock, tmp_path).status_code == 200  # third
    refused = renew_newest(client, clock, tmp_path)
    assert refused.status_code == 429
    assert len(verification_links(tmp_path)) == 3  # the refused renewal mailed nothing
    # The same counter serves the form: the address cannot file another request now.
    assert file_request(client, request_type="objection", details="Stop.").status_code == 429


def test_renewals_from_other_clients_share_the_addresss_count(app, clock, tmp_path):
    assert file_request(app.test_client()).status_code == 303
    statuses = []
    for n in range(3):  # each from another client address
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n + 1}"
        statuses.append(renew_newest(client, clock, tmp_path).status_code)
    assert statuses == [200, 200, 429]


def test_the_limit_headers_are_read_without_queueing_behind_the_requests_own_transaction(make_app, clock, tmp_path):
    """A view may answer with its transaction still open (a used link's page); the limiter
    then reads its counts for the response headers on a connection of its own, which must
    not wait for SQLite's write lock that this very request holds (it would wait out
    DATABASE_LOCK_TIMEOUT, then drop the headers)."""
    app = make_app(CLOCK=clock, DATABASE_LOCK_TIMEOUT=1, RATELIMIT_FORM_PER_EMAIL="5 per hour")
    client = app.test_client()
    assert file_request(client).status_code == 303
    assert renew_newest(client, clock, tmp_path).status_code == 200
    # The first link was spent by the renewal: asking again is answered 410 by a view that
    # has only read (its transaction is still open when the response is finished).
    form = client.get("/en/privacy/inquiry").text
    token = hidden_fields(form)["csrf_token"]
    path = verification_links(tmp_path)[0] + "/renew"
    again = client.post(path, data={"csrf_token": token})
    assert again.status_code == 410
    assert again.headers["X-RateLimit-Remaining"] == "2"  # form, renewal, and this attempt
