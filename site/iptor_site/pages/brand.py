"""The site's identity in every page's head: favicon, theme colour and the social card.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, current_app, has_request_context, request

from iptor_site.core.locales import LOCALES
from iptor_site.pages.company import address_lines

bp = Blueprint("brand", __name__)

#: The header's and the browser chrome's colour (the navy of the stylesheet, --brand-bg),
#: written as rgb(): pages carry no "#<digit>" that could pass for a request number.
THEME_COLOR = "rgb(14, 35, 64)"
#: og:locale for each site locale (Open Graph wants language_TERRITORY).
OG_LOCALES = {"en": "en_GB", "nl": "nl_NL", "fr": "fr_FR", "de": "de_DE"}
#: Size of the social images in static/img/ (scripts/make_brand_images.py draws them).
SOCIAL_SIZE = (1200, 630)
#: The icon /favicon.ico answers with (a 32 px PNG in an ICO container).
FAVICON_ICO = "img/favicon.ico"


def social_image(locale: str) -> str:
    """Logical asset name of the 1200×630 social card of ``locale``."""
    return f"img/social-{locale if locale in LOCALES else 'en'}.png"


def absolute_asset_url(logical: str) -> str:
    """An asset's absolute URL, on SITE_URL like the canonical link (the request's host
    in development without it)."""
    base = current_app.config["SITE_URL"] or request.host_url.rstrip("/")
    return base + current_app.extensions["assets"].url(logical)


def _context() -> dict:
    if not has_request_context():  # mail rendered by a command
        return {}

    return {"theme_color": THEME_COLOR, "og_locales": OG_LOCALES, "social_image_url": absolute_asset_url,
            "social_image": social_image, "social_size": SOCIAL_SIZE, "company_address_lines": address_lines}


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page says: answer with the icon."""
    assets = current_app.extensions["assets"]
    found = assets.files.get(assets.by_logical.get(FAVICON_ICO, ""))
    if found is None:
        abort(404)
    data, _ = found
    response = current_app.response_class(data, mimetype="image/x-icon")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def init_app(app: Flask) -> None:
    app.context_processor(_context)
    app.register_blueprint(bp)
