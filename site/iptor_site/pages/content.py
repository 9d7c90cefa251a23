"""Marketing copy of the content pages, one YAML file per page and locale.

``content/<page>/<locale>.yaml`` holds every sentence a page shows that is not
part of a form: a marketer edits it without touching templates or code. The
files are read once, with PyYAML's safe loader (no tags, no objects), and held to
the English file's shape: the same sections and keys, lists of the same length,
the same icons, no empty text. Text may name a few values the site knows, as
``{price}``, ``{months}``, ``{max_users}`` or ``{demo_minutes}``; the page fills
them in, formatted for its locale.

Optional sections (``proof``: customer logos, testimonials, certifications, a
product screenshot) may hold nothing, and a page shows nothing for them then.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml
from flask import current_app
from flask_babel import format_currency, format_number

from iptor_site.core.locales import DEFAULT_LOCALE, LOCALES

PAGES = ("landing", "pricing")
#: The values text may name, in braces.
PLACEHOLDERS = frozenset({"price", "months", "max_users", "demo_minutes"})
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
#: Sections a page may leave empty; there, the whole section is left out.
OPTIONAL = frozenset({"logos", "testimonials", "certifications", "screenshot"})
#: Keys whose values are not prose: the same in every locale (icon names, image files).
FIXED = frozenset({"icon", "image", "width", "height"})
ICONS = frozenset({"access", "onboarding", "updates", "consent", "rights", "local"})


class ContentError(Exception):
    """A content file that cannot be shown: unreadable, or not shaped like the English one."""


def _shape_problems(english, other, where: str) -> list[str]:
    """How ``other`` differs in shape from ``english``: keys, list lengths, fixed values, empty text."""
    if isinstance(english, dict):
        if not isinstance(other, dict):
            return [f"{where}: expected a section with keys {sorted(english)}"]
        problems = []
        if set(other) != set(english):
            missing, extra = sorted(set(english) - set(other)), sorted(set(other) - set(english))
            problems.append(f"{where}: missing keys {missing}, unknown keys {extra}")
        for key in english:
            if key in other:
                problems += _shape_problems(english[key], other[key], f"{where}.{key}")
        return problems
    if isinstance(english, list):
        if not isinstance(other, list) or len(other) != len(english):
            return [f"{where}: expected a list of {len(english)} entries"]
        problems = []
        for n, (a, b) in enumerate(zip(english, other, strict=True)):
            problems += _shape_problems(a, b, f"{where}[{n}]")
        return problems
    if not isinstance(other, str) or not other.strip():
        return [f"{where}: expected text"]
    key = where.rsplit(".", 1)[-1]
    if key in FIXED and other != english:
        return [f"{where}: must be {english!r} as in English"]
    names = sorted(PLACEHOLDER.findall(other))
    if names != sorted(PLACEHOLDER.findall(english)):
        return [f"{where}: names {names}, English names {sorted(PLACEHOLDER.findall(english))}"]
    return []


def _own_problems(data, where: str) -> list[str]:
    """Problems of one file on its own: unknown placeholders, unknown icons, empty text."""
    if isinstance(data, dict):
        problems = []
        for key, value in data.items():
            if not isinstance(key, str):
                problems.append(f"{where}: key {key!r} is not text")
            elif key in OPTIONAL and not value:
                continue
            else:
                problems += _own_problems(value, f"{where}.{key}")
        return problems
    if isinstance(data, list):
        return [p for n, item in enumerate(data) for p in _own_problems(item, f"{where}[{n}]")]
    if isinstance(data, bool) or not isinstance(data, str | int):
        return [f"{where}: expected text, got {data!r}"]
    text = str(data)
    if not text.strip():
        return [f"{where}: empty"]
    unknown = sorted(set(PLACEHOLDER.findall(text)) - PLACEHOLDERS)
    if unknown:
        return [f"{where}: unknown names {unknown}; use {sorted(PLACEHOLDERS)}"]
    if where.endswith(".icon") and text not in ICONS:
        return [f"{where}: unknown icon {text!r}; use one of {sorted(ICONS)}"]
    return []


def _parse(text: str):
    # PyYAML's safe loader in C (libyaml) where PyYAML was built with it: the same
    # documents read several times faster, which was most of an app's start-up.
    if yaml.__with_libyaml__:
        return yaml.load(text, Loader=yaml.CSafeLoader)
    return yaml.safe_load(text)


def read(path: Path) -> dict:
    """One content file, parsed safely."""
    try:
        data = _parse(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ContentError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ContentError(f"{path}: expected sections at the top level")
    return data


def problems(folder: Path) -> list[str]:
    """Everything wrong with the content files under ``folder``; empty when every page can be shown."""
    return _read_all(folder)[1]


def _read_all(folder: Path) -> tuple[dict, list[str]]:
    """Every page's files by locale (a page with a missing or unreadable file left out),
    and the problems."""
    pages, found = {}, []
    for page in PAGES:
        files = {loc: folder / page / f"{loc}.yaml" for loc in LOCALES}
        missing = [str(p) for p in files.values() if not p.is_file()]
        if missing:
            found += [f"{p}: missing" for p in missing]
            continue
        try:
            data = {loc: read(p) for loc, p in files.items()}
        except ContentError as exc:
            found.append(str(exc))
            continue
        english = data[DEFAULT_LOCALE]
        for loc, copy in data.items():
            found += _own_problems(copy, f"{page}/{loc}")
            if loc != DEFAULT_LOCALE:
                found += _shape_problems(_without_optional(english), _without_optional(copy), f"{page}/{loc}")
        pages[page] = data
    return pages, found


def _without_optional(data):
    """The copy minus optional sections, which a locale may fill or leave empty on its own."""
    if isinstance(data, dict):
        return {k: _without_optional(v) for k, v in data.items() if k not in OPTIONAL}
    if isinstance(data, list):
        return [_without_optional(v) for v in data]
    return data


class ContentLibrary:
    """The content files of every page and locale, read and checked at start-up."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.pages, found = _read_all(self.folder)
        if found:
            raise ContentError("content files cannot be shown:\n  " + "\n  ".join(found))

    def page(self, page: str, locale: str) -> dict:
        return self.pages[page][locale]

    def digest(self) -> str:
        """Changes whenever a content file does: part of the page cache's content version."""
        digest = hashlib.sha256()
        for path in sorted(self.folder.rglob("*.yaml")):
            digest.update(path.relative_to(self.folder).as_posix().encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()[:16]


def values() -> dict[str, str]:
    """The values content text may name, formatted for the current locale."""
    config = current_app.config
    return {
        "price": format_currency(config["PRICE_PER_USER_MONTH"], config["PRICE_CURRENCY"]),
        "months": format_number(config["SUBSCRIPTION_MONTHS"]),
        "max_users": format_number(config["ESTIMATOR_MAX_USERS"]),
        "demo_minutes": format_number(config["DEMO_SLOT_MINUTES"]),
    }


def fill(text) -> str:
    """``text`` with its ``{name}`` placeholders replaced; the result is plain text (escaped by Jinja)."""
    known = values()
    return PLACEHOLDER.sub(lambda m: known[m.group(1)], str(text))


def init_app(app) -> None:
    """Read the content files (refusing to start on a bad one) and give templates ``|fill``."""
    app.extensions["content"] = ContentLibrary(app.config["CONTENT_DIR"])
    app.jinja_env.filters["fill"] = fill
