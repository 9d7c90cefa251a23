"""Every page and form state, in every locale, passes the Nu Html Checker without errors."""

import json
import re
import subprocess

import pytest

from pagestates import TRACKING, all_states, link_states

pytestmark = pytest.mark.java

@pytest.fixture
def app(make_app):
    return make_app(**TRACKING)


def test_every_page_is_valid_html(vnu, client, tmp_path):
    states = all_states(client)
    assert len(states) == 4 * 19  # 12 pages and 4 form states, and the "manage my booking" page shown, with an error, cancelled
    files = {}
    for n, (name, html) in enumerate(states.items()):
        assert html.startswith("<!doctype html>"), name
        path = tmp_path / f"page{n:03d}.html"
        path.write_text(html, "utf-8")
        files[path.name] = name
    result = subprocess.run(
        [*vnu, "--errors-only", "--format", "json", *sorted(str(tmp_path / f) for f in files)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    messages = json.loads(result.stderr or "{}").get("messages", [])
    errors = [
        f"{files[re.sub(r'^.*/', '', m.get('url', ''))]}: line {m.get('lastLine')}: {m['message']}"
        for m in messages if m.get("type") == "error"
    ]
    assert errors == []
    assert result.returncode == 0


def test_the_pages_behind_mailed_links_are_valid_html(vnu, client, tmp_path):
    states = {name: html for lang in ("de", "fr") for name, html in link_states(client, lang).items()}
    assert len(states) == 2 * 8
    files = {}
    for n, (name, html) in enumerate(states.items()):
        assert html.startswith("<!doctype html>"), name
        (tmp_path / f"link{n:02d}.html").write_text(html, "utf-8")
        files[f"link{n:02d}.html"] = name
    result = subprocess.run([*vnu, "--errors-only", "--format", "json", *sorted(str(tmp_path / f) for f in files)],
                            capture_output=True, text=True, timeout=300, check=False)
    messages = json.loads(result.stderr or "{}").get("messages", [])
    assert [f"{files[re.sub(r'^.*/', '', m.get('url', ''))]}: {m['message']}"
            for m in messages if m.get("type") == "error"] == []
    assert result.returncode == 0
