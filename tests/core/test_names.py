"""Names as people write them: joiners that scripts need pass, characters that disguise text do not."""

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from formhelpers import demo_data
from iptor_site.core.extensions import db
from iptor_site.models import Lead

SERIAL = itertools.count()
NOW = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
ZWNJ, ZWJ = "\u200c", "\u200d"


@pytest.fixture
def app(make_app):
    return make_app(CLOCK=lambda: NOW, DEMO_SEATS=500)


def book(app, name: str):
    client = app.test_client()
    data = demo_data(client.get("/en/demo").text, name=name, email=f"n{next(SERIAL)}@example.com")
    return client.post("/en/demo", data=data)


def stored_name(app) -> str:
    with app.app_context():
        return db.session.scalars(select(Lead.name).order_by(Lead.id.desc())).first()


@pytest.mark.parametrize(
    "name",
    [
        f"زهرا{ZWNJ}کریمی",  # Persian: the non-joiner keeps the two words' letters apart
        f"नन्{ZWJ}हा Sharma",  # Devanagari: the joiner asks for the half form
        f"Sam 👩{ZWJ}💻 Berg",  # an emoji sequence
        f"Alex 🏳️{ZWJ}🌈 Lind",  # an emoji with a variation selector before the joiner
    ],
)
def test_names_with_joiners_are_accepted_and_kept_as_typed(app, name):
    response = book(app, name)
    assert response.status_code == 303, response.text[:500]
    assert stored_name(app) == name


@pytest.mark.parametrize(
    "name",
    [
        "Anna\u202eSchmidt",  # right-to-left override
        "Anna\u2066Schmidt\u2069",  # isolates
        "Anna\u200fSchmidt",  # right-to-left mark
        "Anna\u200bSchmidt",  # zero-width space
        "Anna\ufeffSchmidt",  # byte order mark
        f"{ZWJ}Anna Schmidt",  # a joiner that joins nothing
        f"Anna Schmidt{ZWNJ}",
        f"Anna {ZWNJ}Schmidt",
        f"Anna{ZWNJ}{ZWNJ}Schmidt",
        f"Anna{ZWJ}\u202eSchmidt",
    ],
)
def test_format_characters_that_disguise_text_are_refused(app, name):
    response = book(app, name)
    assert response.status_code == 422
    error = response.text.split('id="name-error">', 1)[1].split("</p>", 1)[0]
    assert "invisible control characters" in error
    with app.app_context():
        assert db.session.scalar(select(Lead.id)) is None


LETTERS = st.characters(categories=("Lu", "Ll", "Lt", "Lo", "Lm"))
MARKS = st.characters(categories=("Mn", "Mc"))
# A word starts with a letter of any script; marks and letters follow.
WORD = st.tuples(LETTERS, st.text(alphabet=st.one_of(LETTERS, MARKS), max_size=12)).map("".join)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@pytest.mark.slow
@given(words=st.lists(st.tuples(WORD, st.sampled_from(["", ZWNJ, ZWJ]), WORD), min_size=1, max_size=3))
def test_names_from_every_script_with_joiners_inside_words_are_accepted(app, words):
    name = " ".join(f"{left}{joiner}{right}" for left, joiner, right in words)[:120]
    if name[-1] in (ZWNJ, ZWJ) or name != name.strip():  # cut at the length limit, or ending in a space
        name = name.rstrip(ZWNJ + ZWJ).strip()
    response = book(app, name)
    assert response.status_code == 303, response.text[:500]
    assert stored_name(app) == name
