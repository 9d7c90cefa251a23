"""Every page and form state, in every locale, has no axe-core WCAG 2.1 A/AA violation."""


import pytest

from checkers import WCAG21_AA, axe_failures, serve
from pagestates import TRACKING, all_states, link_states

pytestmark = pytest.mark.browser


@pytest.fixture
def app(make_app):
    return make_app(**TRACKING)


@pytest.mark.parametrize("width", [390, 1366])
def test_no_wcag_violations_on_any_page_or_form_state(browser, server, client, axe_source, width):
    states = all_states(client)
    # axe is injected by the test, which the site's CSP (rightly) forbids.
    context = browser.new_context(base_url=server, bypass_csp=True, viewport={"width": width, "height": 900})
    page = context.new_page()
    failures = axe_failures(page, server, states, axe_source)
    context.close()
    assert failures == []


def test_the_check_does_catch_a_violation(browser, server, axe_source):
    context = browser.new_context(base_url=server, bypass_csp=True)
    page = context.new_page()
    page.route(f"{server}/en/__broken", serve('<!doctype html><html lang="en"><title>x</title><main>'
                                              '<input name="q"><p style="color:#ccc">grey</p></main></html>'))
    page.goto(f"{server}/en/__broken")
    page.add_script_tag(content=axe_source)
    ids = page.evaluate("async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
                        ".violations.map(v => v.id)", WCAG21_AA)
    context.close()
    assert "label" in ids and "color-contrast" in ids


def test_no_wcag_violations_behind_mailed_links(browser, server, client, axe_source):
    states = {name: html for lang in ("de", "fr") for name, html in link_states(client, lang).items()}
    context = browser.new_context(base_url=server, bypass_csp=True, viewport={"width": 390, "height": 900})
    page = context.new_page()
    failures = []
    for n, (name, html) in enumerate(states.items()):
        url = f"{server}/{name.split('/', 1)[0]}/__link_state/{n}"
        page.route(url, serve(html))
        page.goto(url)
        page.add_script_tag(content=axe_source)
        violations = page.evaluate(
            "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations"
            ".map(v => v.id + ': ' + v.help)", WCAG21_AA)
        failures += [f"{name}: {v}" for v in violations]
    context.close()
    assert len(states) == 16 and failures == []
