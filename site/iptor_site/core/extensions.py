"""Flask extensions, created unbound and attached in ``create_app``."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect

from iptor_site.core.database import Database
from iptor_site.core.ratelimits import hashed_remote_address

babel = Babel()
csrf = CSRFProtect()
db = Database()
# A limit whose storage cannot be reached (the database locked or read-only, Redis
# down) lets the request through and logs the error: the form then says it could not
# be saved and keeps what was typed, instead of a bare error page.
limiter = Limiter(key_func=hashed_remote_address, default_limits=[], swallow_errors=True)
