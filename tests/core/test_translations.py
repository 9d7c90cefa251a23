"""The gettext catalogs: complete, current, consistent and compilable."""

import io
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import render_template, render_template_string
from flask_babel import force_locale

from formhelpers import demo_data, inquiry_data, written_mails
from iptor_site.core.locales import DEFAULT_LOCALE, LOCALES, format_day
from iptor_site.core.settings import PROJECT_ROOT
from iptor_site.demo import slots
from iptor_site.leads.forms import country_choices
from iptor_site.leads.people import SUBJECTS
from iptor_site.privacy_requests import lifecycle
from iptor_site.privacy_requests.erasure import DELETION_KINDS
from iptor_site.privacy_requests.forms import REQUEST_TYPES
from pagestates import TRACKING, page_states

TRANSLATED = [loc for loc in LOCALES if loc != DEFAULT_LOCALE]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def catalog(locale):
    path = PROJECT_ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def strings(value):
    return list(value) if isinstance(value, tuple) else [value]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> set:
    """The msgids the code and templates use today, freshly extracted."""
    out = Path(tmp_path_factory.mktemp("pot")) / "messages.pot"
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", str(PROJECT_ROOT / "babel.cfg"), "-k", "_l",
         "--no-location", "-o", str(out), str(PROJECT_ROOT)]
    )
    with out.open("rb") as fh:
        return {m.id for m in read_po(fh) if m.id}


@pytest.mark.parametrize("locale", TRANSLATED)
def test_catalog_is_complete_and_not_fuzzy(locale):
    cat = catalog(locale)
    assert not cat.fuzzy, "the header is marked fuzzy"
    problems = [
        m.id for m in cat if m.id and (m.fuzzy or not all(strings(m.string)))
    ]
    assert problems == []


@pytest.mark.parametrize("locale", TRANSLATED)
def test_catalog_covers_every_string_in_use(locale, template):
    ids = {m.id for m in catalog(locale) if m.id}
    assert template - ids == set(), "run `flask translate update` and translate the new strings"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_placeholders_match_their_msgid(locale):
    for message in catalog(locale):
        if not message.id:
            continue
        wanted = sorted(PLACEHOLDER.findall(" ".join(strings(message.id))))
        for text in strings(message.string):
            # A plural form may drop the number ("one user"), never add or rename one.
            found = sorted(PLACEHOLDER.findall(text))
            assert set(found) <= set(wanted) and (found == wanted or message.pluralizable), (
                message.id, text)


@pytest.mark.parametrize("locale", TRANSLATED)
def test_catalog_compiles_without_errors(locale):
    cat = catalog(locale)
    assert [(m.id, errors) for m, errors in cat.check()] == []
    buffer = io.BytesIO()
    write_mo(buffer, cat)
    assert len(buffer.getvalue()) > 1000


def test_the_app_uses_the_compiled_catalogs(client):
    assert "Prijzen" in client.get("/nl/pricing").text
    assert "Tarifs" in client.get("/fr/pricing").text
    assert "Preise" in client.get("/de/pricing").text


# --- locale-dependent rendering ---------------------------------------------------------

USERS_MAX = {"en": "10,000", "nl": "10.000", "fr": "10\u202f000", "de": "10.000"}


def users_hint(html: str) -> str:
    return html.split('id="users-hint">', 1)[1].split("</p>", 1)[0]


@pytest.mark.parametrize("first", ["en", "de"])
def test_demo_numbers_follow_the_language_whichever_is_asked_first(make_app, first):
    # Jinja folds a literal piped through a filter once, in the language of the first request.
    client = make_app().test_client()
    order = [first, *[loc for loc in LOCALES if loc != first]]
    for lang in order + order:
        hint = users_hint(client.get(f"/{lang}/demo").text)
        assert USERS_MAX[lang] in hint, (lang, hint)
        others = {v for k, v in USERS_MAX.items() if v != USERS_MAX[lang]}
        assert not any(other in hint for other in others), (lang, hint)


def test_no_template_pipes_a_literal_through_a_locale_filter():
    literal = re.compile(r"""(?:\d|['"])\s*\|\s*(?:numberformat|decimalformat|currencyformat|percentformat"""
                         r"""|scientificformat|dateformat|datetimeformat|timeformat|timedeltaformat)""")
    found = [
        (str(path.relative_to(PROJECT_ROOT)), match.group(0))
        for path in (PROJECT_ROOT / "templates").rglob("*")
        if path.is_file()
        for match in literal.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


# --- French typography: a no-break space before : ; ? ! ----------------------------------

NO_BREAK = "\u202f\u00a0"
#: What is not prose: web and mail addresses.
NOT_PROSE = re.compile(r"(?:https?|mailto):\S+|[\w.+-]+@[\w.-]+")


class _Text(HTMLParser):
    """The text a reader sees or hears: text nodes, not markup, attributes, scripts or styles."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def bare_high_punctuation(text: str) -> list[str]:
    """Every : ; ? ! without a (narrow) no-break space before it, in context."""
    text = NOT_PROSE.sub(" ", text)
    found = []
    for match in re.finditer(r"[:;?!]", text):
        i = match.start()
        before, after = text[i - 1 : i], text[i + 1 : i + 2]
        if before in NO_BREAK and before:
            continue
        if match.group() == ":" and before.isdigit() and after.isdigit():
            continue  # a time or an offset: 09:00, UTC+5:30
        if before in "?!" and before and text[i - 2 : i - 1] in NO_BREAK:
            continue  # "?!" after one space
        found.append(text[max(0, i - 40) : i + 10])
    return found


def test_the_checker_finds_bare_punctuation_and_ignores_times_and_urls():
    assert bare_high_punctuation("Prénom et nom: Anna") == ["Prénom et nom: Anna"]
    assert bare_high_punctuation("Heure\u202f: 09:00, UTC+5:30, https://example.com/?a=b, a@b.fr") == []
    assert visible_text('<p title="a: b">x<script>a:b</script>\u00a0!</p>') == "x\u00a0!"


def test_every_french_catalog_entry_has_no_break_spaces_before_high_punctuation():
    # Also the strings no rendered state below shows (back-office, rare errors).
    problems = [
        (message.id, found)
        for message in catalog("fr")
        if message.id
        for text in strings(message.string)
        if (found := bare_high_punctuation(text))
    ]
    assert problems == []


@pytest.mark.slow
def test_every_french_page_and_form_state_has_no_break_spaces_before_high_punctuation(make_app):
    app = make_app(**TRACKING)
    client = app.test_client()
    problems = {name: bare_high_punctuation(visible_text(html))
                for name, html in page_states(client, "fr").items()}
    page = client.get("/fr/demo").text
    tampered = client.post("/fr/demo", data=demo_data(page, country="XX", slot="2000-01-01T09:00Z"))
    problems["fr/demo (tampered)"] = bare_high_punctuation(visible_text(tampered.text))
    assert {name: found for name, found in problems.items() if found} == {}


def _mail_text(message) -> str:
    parts = [str(message["Subject"])]
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            parts.append(part.get_content())
    return "\n".join(parts)


def test_every_french_mail_has_no_break_spaces_before_high_punctuation(make_app, tmp_path, clock):
    app = make_app(CLOCK=clock)
    client = app.test_client()
    # The mails the forms send, as sent (subject and body).
    page = client.get("/fr/demo").text
    assert client.post("/fr/demo", data=demo_data(page, email="fr-demo@example.com")).status_code == 303
    page = client.get("/fr/privacy/inquiry").text
    assert client.post("/fr/privacy/inquiry", data=inquiry_data(page)).status_code == 303
    sent = [m for m in written_mails(tmp_path) if m["To"] and "example.com" in m["To"]]
    assert len(sent) == 2
    problems = {str(m["Subject"]): bare_high_punctuation(_mail_text(m)) for m in sent}
    # Every mail template a person receives, and every subject, rendered in French.
    with app.test_request_context("/fr/"), force_locale("fr"):
        when = slots.describe(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "Europe/Paris", 45)
        context = {
            "lead": SimpleNamespace(name="Camille Martin", email="camille@example.com", locale="fr"),
            "inquiry": SimpleNamespace(id=42, reference="7KQM-2XPD-W4R9", due_on=date(2026, 12, 30),
                                       extension_reason="Volume", request_type="access"),
            "booking": SimpleNamespace(id=7),
            "when": when, "hours": 48, "link": "https://www.iptor.com/fr/privacy/verify/abc",
            "request_label": str(REQUEST_TYPES["access"]), "reason": "Motif", "completed": date(2026, 12, 1),
            "counts": dict.fromkeys(DELETION_KINDS, 1), "due": date(2026, 12, 30),
            "pending": {"community": True, "exports": [date(2026, 11, 2), date(2026, 11, 16)],
                        "sales_mails": [datetime(2026, 11, 3, 9, 0, tzinfo=UTC)]},
            "earlier": SimpleNamespace(received=datetime(2026, 11, 2, 9, 0, tzinfo=UTC), reference="7KQM-2XPD-W4R9"),
        }
        templates = PROJECT_ROOT / "templates"
        for path in sorted(templates.glob("*/mail/*.txt")):
            if path.stem.endswith("_team"):
                continue  # the team's notices are in English
            name = path.relative_to(templates).as_posix()
            problems[name] = bare_high_punctuation(render_template(name, **context))
        for key, subject in SUBJECTS.items():
            problems[f"subject {key}"] = bare_high_punctuation(str(subject))
    assert {name: found for name, found in problems.items() if found} == {}


@pytest.mark.parametrize("lang", LOCALES)
def test_error_summary_reads_label_separator_message(client, lang):
    # "I confirm that I am a resident of California." + ": message" read ".:" in every language.
    page = client.get(f"/{lang}/privacy/inquiry").text
    html = client.post(f"/{lang}/privacy/inquiry", data=inquiry_data(page, request_type="sb27")).text
    summary = visible_text(html.split('id="error-summary"', 1)[1].split("</ul>", 1)[0])
    expected = {"en": "California residency: ", "nl": "Woonplaats in Californië: ",
                "fr": "Résidence en Californie\u202f: ", "de": "Wohnsitz in Kalifornien: "}
    assert expected[lang] in summary
    assert not re.search(r"[.!?]\s*[:;]", summary), summary


# --- dates -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("lang", "width", "first", "second"), [
    ("fr", "full", "mardi 1er décembre 2026", "mercredi 2 décembre 2026"),
    ("fr", "long", "1er décembre 2026", "2 décembre 2026"),
    ("fr", "medium", "1er déc. 2026", "2 déc. 2026"),
    ("fr", "d MMMM", "1er décembre", "2 décembre"),
    ("de", "long", "1. Dezember 2026", "2. Dezember 2026"),
    ("nl", "long", "1 december 2026", "2 december 2026"),
    ("en", "long", "1 December 2026", "2 December 2026"),
])
def test_the_date_helper_writes_the_first_of_the_month_as_each_language_does(lang, width, first, second):
    assert format_day(date(2026, 12, 1), width, locale=lang) == first
    assert format_day(date(2026, 12, 2), width, locale=lang) == second


def test_the_first_of_the_month_is_1er_in_french_pages_mails_and_calendar_files(make_app, tmp_path, clock):
    # The clock is Monday 30 November: the first day offered is Tuesday 1 December.
    app = make_app(CLOCK=clock)
    client = app.test_client()
    page = client.get("/fr/demo").text
    assert "<legend>mardi 1er décembre 2026</legend>" in page
    assert client.post("/fr/demo", data=demo_data(page, email="fr@example.com")).status_code == 303
    mail = next(m for m in written_mails(tmp_path) if m["To"] and "fr@example.com" in m["To"])
    manage = re.search(r"http://127\.0\.0\.1:5000(/fr/demo/manage/\S+)", _mail_text(mail)).group(1)
    assert "mardi 1er décembre 2026" in visible_text(client.get(manage).text)
    calendar = client.get(manage + "/invitation.ics").data.decode().replace("\r\n ", "")
    assert "le mardi 1er décembre 2026" in calendar
    assert str(mail["Subject"]) == "Votre démo Iptor multiflex le mardi 1er décembre 2026"
    assert "mardi 1er décembre 2026" in _mail_text(mail)
    attachment = next(p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar")
    assert "le mardi 1er décembre 2026" in attachment.get_content().replace("\r\n ", "")
    # Templates' |dateformat is the same helper.
    with app.test_request_context("/fr/"), force_locale("fr"):
        assert render_template_string("{{ d|dateformat('long') }}", d=date(2027, 1, 1)) == "1er janvier 2027"


# --- collation --------------------------------------------------------------------------------

def _before(names: list[str], first: str, second: str) -> bool:
    return names.index(first) < names.index(second)


@pytest.mark.parametrize(("lang", "pairs"), [
    ("fr", [("Suède", "Suisse"), ("Égypte", "Espagne"), ("Émirats arabes unis", "Érythrée"),
            ("Espagne", "États-Unis"), ("États-Unis", "Éthiopie"), ("Éthiopie", "Fidji")]),
    ("de", [("Oman", "Österreich"), ("Österreich", "Pakistan"), ("Südafrika", "Sudan"),
            ("Ägypten", "Albanien")]),
    ("nl", [("Åland", "Albanië"), ("Oeganda", "Oekraïne"), ("Curaçao", "Cyprus")]),
    ("en", [("Åland Islands", "Albania"), ("Côte d’Ivoire", "Croatia"), ("Réunion", "Romania")]),
])
def test_countries_are_in_the_languages_collation_order(lang, pairs):
    names = [name for _, name in country_choices(lang)]
    for first, second in pairs:
        assert _before(names, first, second), (lang, first, second)


@pytest.mark.parametrize(("lang", "pairs"), [
    ("fr", [("Suède", "Suisse"), ("Émirats arabes unis", "Espagne (Madrid)"),
            ("Espagne (Madrid)", "États-Unis (Chicago)"),
            ("États-Unis (New York)", "Finlande")]),
    ("de", [("Norwegen", "Österreich"), ("Österreich", "Polen"), ("Südafrika", "Türkei")]),
    ("nl", [("Oostenrijk", "Polen"), ("Verenigde Staten (New York)", "Zuid-Afrika")]),
    ("en", [("Türkiye", "United Arab Emirates"), ("United States (New York)", "UTC")]),
])
def test_time_zones_are_in_the_languages_collation_order(app, lang, pairs):
    with app.test_request_context(f"/{lang}/demo"), force_locale(lang):
        places = [re.sub(r" \((heure locale|Ortszeit|lokale tijd|local time)\)", "", label.rsplit(" – ", 1)[0])
                  for _, label in slots.time_zone_choices("Europe/Paris")]
    for first, second in pairs:
        assert _before(places, first, second), (lang, first, second, places)


# --- time-zone labels -------------------------------------------------------------------------

@pytest.mark.parametrize(("lang", "zone", "label"), [
    ("de", "Europe/Berlin", "Deutschland (Berlin) – UTC+1"),
    ("de", "Europe/Vienna", "Österreich (Ortszeit) – UTC+1"),
    ("fr", "Europe/Paris", "France (heure locale) – UTC+1"),
    ("fr", "America/New_York", "États-Unis (New York) – UTC\u22125"),
    ("nl", "Europe/London", "Verenigd Koninkrijk (lokale tijd) – UTC"),
    ("en", "Asia/Kolkata", "India (local time) – UTC+5:30"),
    ("en", "UTC", "UTC"),
])
def test_each_zone_has_one_clean_label_with_its_offset(app, clock, lang, zone, label):
    with app.test_request_context(f"/{lang}/demo"), force_locale(lang):
        assert slots.zone_label(zone, clock()) == label


def test_zone_labels_follow_daylight_saving_time(app):
    with app.test_request_context("/de/demo"), force_locale("de"):
        assert slots.zone_label("Europe/Berlin", datetime(2027, 7, 1, tzinfo=UTC)) == "Deutschland (Berlin) – UTC+2"


def test_the_french_confirmation_mail_names_the_zone_once(make_app, tmp_path, clock):
    client = make_app(CLOCK=clock).test_client()
    page = client.get("/fr/demo").text
    client.post("/fr/demo", data=demo_data(page, email="tz@example.com", time_zone="Europe/Paris"))
    mail = next(m for m in written_mails(tmp_path) if m["To"] and "tz@example.com" in m["To"])
    assert "Fuseau horaire\u202f: heure d’Europe centrale (UTC+01:00)\n" in _mail_text(mail).replace("\r\n", "\n")


@pytest.mark.parametrize(("lang", "zone", "label"), [
    ("de", "America/Argentina/Cordoba", "Argentinien (Córdoba) – UTC\u22123"),
    ("fr", "Asia/Kathmandu", "Népal (heure locale) – UTC+5:45"),
    ("fr", "Asia/Katmandu", "Népal (heure locale) – UTC+5:45"),  # the name Chromium reports
    ("nl", "America/Cordoba", "Argentinië (Córdoba) – UTC\u22123"),
    ("en", "Pacific/Chatham", "New Zealand (Chatham Islands) – UTC+13:45"),
])
def test_a_zone_outside_the_list_gets_a_localized_label_from_the_server(make_app, clock, lang, zone, label):
    client = make_app(CLOCK=clock).test_client()
    data = client.get(f"/{lang}/demo/slots", query_string={"tz": zone}).get_json()
    assert data["zone"] == zone
    assert data["zone_label"] == label
    # The page itself, asked for that zone, lists it under the same label.
    assert f'<option value="{zone}" selected>{label}</option>' in client.get(f"/{lang}/demo?tz={zone}").text


def test_french_privacy_request_pages_and_mails_have_no_break_spaces_before_high_punctuation(
        make_app, tmp_path, clock):

    app = make_app(CLOCK=clock)
    client = app.test_client()
    pages = {}

    def visit(name, path, method="get", **kwargs):
        response = getattr(client, method)(path, **kwargs)
        pages[name] = response.text
        return response

    def link(kind, address):
        texts = [_mail_text(m) for m in written_mails(tmp_path) if m["To"] and address in m["To"]]
        return re.findall(rf"http://127\.0\.0\.1:5000(/fr/privacy/requests/{kind}/[A-Za-z0-9_-]+)", "\n".join(texts))[-1]

    for request_type in ("access", "marketing-opt-out", "objection"):
        page = client.get("/fr/privacy/inquiry").text
        address = f"{request_type}@example.com"
        client.post("/fr/privacy/inquiry", data=inquiry_data(
            page, request_type=request_type, details="Merci", email=address))
        verify = visit(f"verify {request_type}", link("verify", address))
        token = re.search(r'name="csrf_token" value="([^"]+)"', verify.text).group(1)
        visit(f"done {request_type}", link("verify", address), "post", data={"csrf_token": token},
              follow_redirects=True)
    visit("used link", link("verify", "access@example.com"))
    visit("download", link("download", "access@example.com"))
    with app.test_request_context("/"):
        unsubscribe = lifecycle.unsubscribe_url("access@example.com", "fr").removeprefix("http://127.0.0.1:5000")
    visit("unsubscribe", unsubscribe)
    visit("unsubscribed", unsubscribe, "post")
    visit("unknown link", "/fr/privacy/requests/verify/not-a-token")
    visit("cookies saved", "/fr/cookies?saved=1")
    problems = {name: bare_high_punctuation(visible_text(html)) for name, html in pages.items()}
    problems.update({str(m["Subject"]): bare_high_punctuation(_mail_text(m)) for m in written_mails(tmp_path)
                     if m["To"] and "example.com" in m["To"]})
    assert len(pages) == 12
    assert {name: found for name, found in problems.items() if found} == {}
