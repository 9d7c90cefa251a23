"""Production gunicorn settings (also what `make bench` measures).

Environment: PORT (8000), BIND (127.0.0.1:$PORT), WEB_CONCURRENCY (workers,
default two per core plus one), GUNICORN_THREADS (4 per worker), MAX_REQUESTS
(200000 per worker before it is replaced).
"""

import gc
import multiprocessing
import os

bind = os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 5
timeout = 30
graceful_timeout = 20
# The app is imported once, before the workers fork: a recycled worker (max_requests)
# starts in milliseconds instead of importing everything again mid-traffic, and the
# workers share the loaded code's memory.
preload_app = True
# A worker is replaced after this many requests, as a guard against slow leaks. Each
# replacement costs a fresh worker's first renders: at 10,000 a benchmark at 7,000
# requests/s recycled a worker every few seconds, cutting throughput by a third.
max_requests = int(os.environ.get("MAX_REQUESTS", "200000"))
max_requests_jitter = max_requests // 10
# The app writes one JSON line per request itself; gunicorn's access log would repeat it.
accesslog = None
errorlog = "-"
# Requests come from the reverse proxy on this machine; the app's TRUSTED_PROXIES decides
# which X-Forwarded-* headers count.
forwarded_allow_ips = "127.0.0.1"
proxy_allow_ips = "127.0.0.1"


def post_worker_init(worker):
    """Move everything loaded so far out of the garbage collector's view: the app's
    modules, templates and caches live as long as the worker, and scanning them on
    every full collection is time a request waits for."""
    gc.freeze()
