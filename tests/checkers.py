"""The page checkers the tests share: axe-core in Chromium and the Nu Html Checker on Java."""

from iptor_site.core.settings import PROJECT_ROOT

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
VNU = PROJECT_ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
WCAG21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def serve(html):
    def handler(route):
        route.fulfill(body=html, content_type="text/html; charset=utf-8")

    return handler


def axe_failures(page, server, states, axe_source, route="__state") -> list[str]:
    """Each WCAG 2.1 A/AA violation axe finds in the page states (name → HTML), served
    one by one under ``/<locale>/<route>/<n>``, as "state: rule: help — elements"."""
    failures = []
    for n, (name, html) in enumerate(states.items()):
        url = f"{server}/{name.split('/', 1)[0]}/{route}/{n}"
        page.route(url, serve(html))
        page.goto(url)
        page.add_script_tag(content=axe_source)
        violations = page.evaluate(
            "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations"
            ".map(v => v.id + ': ' + v.help + ' — ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))",
            WCAG21_AA,
        )
        failures += [f"{name}: {v}" for v in violations]
    return failures
