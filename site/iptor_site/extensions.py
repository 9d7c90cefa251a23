"""Flask extensions, created unbound and attached in ``create_app``."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from .db import Database

babel = Babel()
csrf = CSRFProtect()
db = Database()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
