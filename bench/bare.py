"""The Python floor: a bare Flask app returning the same bytes as the site's pages."""

import os
from pathlib import Path

from flask import Flask, Response, abort, request

PAGES = Path(os.environ["BENCH_PAGES"])
app = Flask(__name__)
cache = {p.relative_to(PAGES).as_posix(): p.read_bytes() for p in PAGES.rglob("*") if p.is_file()}


@app.get("/<path:path>")
def page(path):
    body = cache.get(path)
    if body is None:
        abort(404)
    etag = '"bare"'
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers={"ETag": etag})
    return Response(body, mimetype="text/html", headers={"ETag": etag})
