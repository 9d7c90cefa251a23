"""The steps every form submission goes through, shared by the demo and inquiry views."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app, render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError

from iptor_site.core import clock
from iptor_site.core.extensions import db
from iptor_site.leads import antispam

TOO_FAST = _l("Please check your details and send the form again.")
EXPIRED = _l("This form was open for a long time. Everything you typed is still here: "
             "please check it and send the form again.")
NOT_SAVED = _l("We could not save your request just now. Nothing you typed is lost: "
               "please try again in a moment.")


class FormRejected(Exception):
    """The submission is valid but cannot be accepted as it is; tell the person why."""

    def __init__(self, field: str, message: str, status: int = 409):
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


def submit(
    form,
    form_name: str,
    save: Callable,
    render: Callable[..., Response],
    done: Callable[[object], Response],
) -> Response:
    """Run a POSTed form: bot traps, validation, one transaction (the submission and
    its mail in the outbox), committed here once, then redirect.

    ``save(session, now)`` stores the submission and returns the saved object;
    ``render(status=…, notice=…)`` shows the form again with everything typed;
    ``done(saved)`` answers a success (a redirect to the confirmation).
    """
    verdict = antispam.verdict(form, form_name)
    if verdict in {"honeypot", "bad-token"}:
        antispam.store(db.session, form, form_name, verdict)
        db.session.commit()
        return Response(render_template("leads/received_neutral.html"), status=200)
    if verdict in {"too-fast", "expired"}:
        form.started.data = antispam.start_token(form_name)  # the form shown again starts anew
    if not form.validate():
        return render(status=422)
    if verdict == "too-fast":
        antispam.store(db.session, form, form_name, verdict)
        db.session.commit()
        return render(status=422, notice=TOO_FAST)
    if verdict == "expired":
        return render(status=422, notice=EXPIRED)
    try:
        saved = save(db.session, clock.now())
        db.session.commit()
    except FormRejected as rejected:
        db.session.rollback()
        form[rejected.field].errors = [rejected.message]
        return render(status=rejected.status)
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.exception("could not save a %s submission", form_name)
        return render(status=503, notice=NOT_SAVED)
    return done(saved)
