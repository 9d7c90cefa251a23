"""Legal documents: one Markdown file per document, version and locale.

The layout is ``<LEGAL_DIR>/<document>/<version>/<locale>.md``. A version is
``YYYY-MM``; the newest version of a document is its current one. A locale
that lacks the current version does not serve an older one under its prefix:
the view redirects the visitor to a locale that has it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from html import unescape
from pathlib import Path

import markdown
from flask import Flask, current_app
from markupsafe import Markup, escape

from iptor_site.core.locales import LOCALES

VERSION_RE = re.compile(r"^(\d{4})-(\d{2})$")
EMAIL_PLACEHOLDER = re.compile(r"\[\[email:([a-z]+)\]\]")
INQUIRY_LINK = re.compile(r"\]\(inquiry:([a-z0-9-]*)\)")


@dataclass(frozen=True)
class Heading:
    level: int
    anchor: str
    text: str


@dataclass(frozen=True)
class Document:
    """A rendered legal document in one locale."""

    name: str
    version: str
    locale: str
    title: str
    html: Markup
    headings: tuple[Heading, ...]

    @property
    def updated(self) -> date:
        """The version as a date (first of the month), for localized display."""
        year, month = VERSION_RE.match(self.version).groups()
        return date(int(year), int(month), 1)

    @property
    def toc(self) -> tuple[Heading, ...]:
        """Top-level sections, for the table of contents."""
        return tuple(h for h in self.headings if h.level == 2)


class LegalLibrary:
    """Knows which documents exist in which versions and locales, and renders them."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._index: dict[str, dict[str, frozenset[str]]] = {}
        for doc_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            versions = {}
            for version_dir in doc_dir.iterdir():
                if version_dir.is_dir() and VERSION_RE.match(version_dir.name):
                    locales = frozenset(f.stem for f in version_dir.glob("*.md"))
                    if locales:
                        versions[version_dir.name] = locales
            if versions:
                self._index[doc_dir.name] = versions
        self._render = lru_cache(maxsize=64)(self._render_uncached)

    def versions(self, name: str) -> list[str]:
        return sorted(self._index[name])

    def current_version(self, name: str) -> str:
        """The newest version of a document."""
        return self.versions(name)[-1]

    def locales(self, name: str, version: str | None = None) -> frozenset[str]:
        """Locales that have ``version`` (default: the current one) of a document."""
        version = version or self.current_version(name)
        return self._index[name].get(version, frozenset())

    def path(self, name: str, version: str, locale: str) -> Path:
        return self.root / name / version / f"{locale}.md"

    def render(
        self,
        name: str,
        locale: str,
        *,
        emails: dict[str, str],
        inquiry_url: str,
        version: str | None = None,
    ) -> Document:
        """Render a document, filling in contact addresses and form links.

        ``[[email:key]]`` becomes a mailto link to ``emails[key]``; a link to
        ``inquiry:type`` becomes ``inquiry_url`` with the request type preselected.
        Rendered documents are cached: they change only with these inputs.
        """
        version = version or self.current_version(name)
        if locale not in self.locales(name, version):
            raise LookupError(f"{name} {version} has no {locale} version")
        return self._render(name, version, locale, tuple(sorted(emails.items())), inquiry_url)

    def _render_uncached(self, name, version, locale, emails, inquiry_url) -> Document:
        source = self.path(name, version, locale).read_text("utf-8")
        email_map = dict(emails)

        def email(match: re.Match) -> str:
            address = email_map[match.group(1)]
            return f'<a href="mailto:{escape(address)}">{escape(address)}</a>'

        source = EMAIL_PLACEHOLDER.sub(email, source)
        source = INQUIRY_LINK.sub(
            lambda m: f"]({inquiry_url}?type={m.group(1)})" if m.group(1) else f"]({inquiry_url})",
            source,
        )

        md = markdown.Markdown(
            extensions=["attr_list", "toc", "sane_lists", "smarty"],
            extension_configs={"smarty": {"smart_quotes": False}, "toc": {"toc_depth": "2-3"}},
            output_format="html",
        )
        body = md.convert(source)
        title_match = re.search(r"<h1[^>]*>(.*?)</h1>", body, re.S)
        if not title_match:
            raise ValueError(f"{name} {version} {locale}: the document needs a '# title'")
        title = _text(title_match.group(1))
        # The page template renders the title as its own <h1>, with the version under it.
        body = body[: title_match.start()] + body[title_match.end():]
        headings = tuple(_flatten(md.toc_tokens))
        # The Markdown comes from the repository's legal/ folder, written and reviewed
        # by us, never from visitors: its HTML is trusted.
        html = Markup(body.strip())  # nosec B704 # noqa: S704
        return Document(name, version, locale, title, html, headings)


def _text(html: str) -> str:
    """Plain text of an HTML fragment: tags removed, entities decoded."""
    return unescape(re.sub(r"<[^>]+>", "", html)).strip()


def _flatten(tokens):
    for token in tokens:
        if token["level"] > 1:
            yield Heading(token["level"], token["id"], _text(token["name"]))
        yield from _flatten(token["children"])


PRIVACY_DOC = "privacy"


def privacy_version() -> str:
    """The current version of the privacy policy, recorded with every consent."""
    return current_app.extensions["legal"].current_version(PRIVACY_DOC)


def privacy_locales() -> list[str]:
    """Locales that have the current version of the privacy policy."""
    have = current_app.extensions["legal"].locales(PRIVACY_DOC)
    return [loc for loc in LOCALES if loc in have]


def init_app(app: Flask) -> None:
    """Load the legal documents from LEGAL_DIR."""
    app.extensions["legal"] = LegalLibrary(app.config["LEGAL_DIR"])
