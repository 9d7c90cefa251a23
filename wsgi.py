"""Entry point for `flask` commands run from the project folder and for gunicorn (`wsgi:app`)."""

from iptor_site import create_app

app = create_app()
