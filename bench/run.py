"""`make bench`: the site under gunicorn against a bare Flask app and nginx, measured with wrk.

Prints one table (requests/s, p50 and p99 latency, errors, ratios to the floors,
peak RSS per worker), then checks that every form POST answered as accepted is
in the database exactly once. Exits non-zero on any error or lost or duplicated
lead, never on speed. Settings: BENCH_SECONDS (10 per case), BENCH_CONNECTIONS
("4,32"), DATABASE_URL (the database for the POST half; default a fresh SQLite).
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_CONNECTIONS", "4,32").split(",")]
THREADS = 2
GET_PATHS = ["/de/pricing", "/fr/privacy"]
#: The TLS context for HTTPS bases (bench/through_cluster.py pins the cluster's certificate).
SSL_CONTEXT = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback only
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def site_env(workdir: Path) -> dict:
    env = dict(os.environ)
    env.update({
        "IPTOR_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        # Production refuses to start without them; the servers run on loopback.
        "SITE_URL": "http://127.0.0.1",
        "TRUSTED_HOSTS": "127.0.0.1,localhost",
        "COOKIE_SECURE": "0",
        "HSTS": "0",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{workdir / 'bench.sqlite3'}",
        "MAIL_DIR": str(workdir / "mail"),
        "FORM_MIN_FILL_SECONDS": "0",
        "RATELIMIT_FORM_PER_IP": "10000000 per hour",
        "RATELIMIT_FORM_PER_EMAIL": "10000000 per hour",
        # A calendar large enough that every POST books its own slot (up to 600/s).
        "DEMO_DAY_START": "00:00", "DEMO_DAY_END": "23:55", "DEMO_SLOT_MINUTES": "5",
        "DEMO_WORKDAYS": "1,2,3,4,5,6,7",
        "DEMO_DAYS_AHEAD": str(600 * SECONDS * len(CONNECTIONS) // 287 + 1),
    })
    return env


class Server:
    def __init__(self, args, env, log: Path):
        self.log = log.open("wb")
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=self.log, cwd=ROOT,  # noqa: S603
                                     start_new_session=True)

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],  # noqa: S603,S607
                             capture_output=True, text=True, check=False).stdout
        return [int(p) for p in out.split()]

    def peak_rss_mb(self) -> float:
        peaks = []
        for pid in self.worker_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"VmHWM:\s+(\d+) kB", status)
            if match:
                peaks.append(int(match.group(1)) / 1024)
        return max(peaks) if peaks else float("nan")

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def wrk(url: str, connections: int, mode: str = "get", extra_env: dict | None = None,
        seconds: int = SECONDS) -> dict:
    env = dict(os.environ, BENCH_MODE=mode, BENCH_THREADS=str(THREADS), **(extra_env or {}))
    out = subprocess.run(  # noqa: S603
        ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",  # noqa: S607
         "-s", str(ROOT / "bench" / "wrk.lua"), url],
        capture_output=True, text=True, env=env, check=True, timeout=seconds + 60,
    ).stdout
    result = json.loads(out.split("BENCH ", 1)[1].splitlines()[0])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def form_session(base: str, path: str) -> dict:
    """A session cookie with its CSRF and start tokens, as a browser gets them."""
    with urllib.request.urlopen(base + path, timeout=10, context=SSL_CONTEXT) as response:  # noqa: S310 - loopback
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]
        page = response.read().decode()
    form = re.search(r'<form method="post"[^>]*class="lead-form".*?</form>', page, re.S).group(0)

    def hidden(name):
        return html.unescape(re.search(rf'name="{name}"[^>]*value="([^"]*)"', form).group(1))

    return {"BENCH_COOKIE": cookie, "BENCH_CSRF": hidden("csrf_token"), "BENCH_STARTED": hidden("started"),
            "BENCH_ORIGIN": base}


def main() -> int:
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            print(f"make bench needs {tool} (apt-get install {tool})", file=sys.stderr)
            return 2
    workdir = Path(tempfile.mkdtemp(prefix="iptor-bench-"))
    workdir.chmod(0o755)  # nginx's workers read the saved pages as another user
    env = site_env(workdir)
    subprocess.run([VENV_BIN / "flask", "db", "upgrade"], env=env, cwd=ROOT, check=True,  # noqa: S603
                   capture_output=True)
    ports = {"site": free_port(), "bare": free_port(), "nginx": free_port()}
    servers = {}
    rows, failures = [], []
    try:
        servers["site"] = Server([VENV_BIN / "gunicorn", "-c", "gunicorn.conf.py", "--bind",
                                  f"127.0.0.1:{ports['site']}", "wsgi:app"], env, workdir / "site.log")
        site = f"http://127.0.0.1:{ports['site']}"
        wait_for(site + "/healthz")
        # The outbox worker sends the submissions' mail while they come in, as in production.
        servers["worker"] = Server([VENV_BIN / "flask", "--app", "iptor_site", "outbox", "work"], env,
                                   workdir / "worker.log")

        # The same bytes for the floors: the pages as the site serves them.
        pages = workdir / "pages"
        etags = {}
        for path in GET_PATHS:
            with urllib.request.urlopen(site + path, timeout=10) as response:  # noqa: S310 - loopback only
                target = pages / path.strip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(response.read())
                etags[path] = response.headers["ETag"]
        bare_env = dict(env, BENCH_PAGES=str(pages), PYTHONPATH=str(ROOT / "bench"))
        servers["bare"] = Server([VENV_BIN / "gunicorn", "-c", "gunicorn.conf.py", "--bind",
                                  f"127.0.0.1:{ports['bare']}", "bare:app"], bare_env, workdir / "bare.log")
        conf = workdir / "nginx.conf"
        conf.write_text(f"""
worker_processes 2;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log;
daemon off;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {workdir}/nginx-body;
  server {{
    listen 127.0.0.1:{ports['nginx']};
    root {pages};
    location / {{ default_type text/html; etag on; }}
  }}
}}
""")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        servers["nginx"] = Server([nginx, "-c", str(conf), "-p", str(workdir)], env, workdir / "nginx.log")
        bare, static = f"http://127.0.0.1:{ports['bare']}", f"http://127.0.0.1:{ports['nginx']}"
        wait_for(bare + GET_PATHS[0])
        wait_for(static + GET_PATHS[0])

        # Every worker renders each page once and loads its code on first use: run each
        # GET case briefly before measuring, so the figures are of a warm server.
        for base in (site, bare, static):
            for path in GET_PATHS:
                wrk(base + path, max(CONNECTIONS), seconds=1)
        wrk(site + GET_PATHS[0], max(CONNECTIONS), "etag", {"BENCH_ETAG": etags[GET_PATHS[0]]}, seconds=1)

        for connections in CONNECTIONS:
            for path in GET_PATHS:
                results = {name: wrk(base + path, connections) for name, base in
                           (("site", site), ("bare", bare), ("nginx", static))}
                rows.append((f"GET {path}", connections, results))
            results = {"site": wrk(site + GET_PATHS[0], connections, "etag", {"BENCH_ETAG": etags[GET_PATHS[0]]}),
                       "bare": wrk(bare + GET_PATHS[0], connections, "etag", {"BENCH_ETAG": '"bare"'})}
            rows.append((f"GET {GET_PATHS[0]} (304)", connections, results))

        # Form POSTs: every one books its own slot or files its own request.
        accepted = {"demo": 0, "inquiry": 0}
        slots_file = workdir / "slots.txt"
        slots_file.write_text(subprocess.run(  # noqa: S603
            [VENV_BIN / "python", "-c",
             "from iptor_site import create_app\nfrom iptor_site.demo import slots\napp = create_app()\n"
             "with app.app_context(): print('\\n'.join(slots.slot_value(s) for s in slots.offered()))"],
            env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout)
        timeouts = {"demo": 0, "inquiry": 0}
        for run, connections in enumerate(CONNECTIONS):
            for mode, path in (("demo", "/en/demo"), ("inquiry", "/en/privacy/inquiry")):
                extra = form_session(site, path)
                # Each run books its own slots and files requests from its own addresses.
                extra.update(BENCH_SLOTS=str(slots_file), BENCH_RUN=str(run),
                             BENCH_SLOT_OFFSET=str(run * 600 * SECONDS))
                result = wrk(site + path, connections, mode, extra)
                accepted[mode] += result["statuses"].get("303", 0)
                # Requests still in flight when wrk stops are answered by the server, not counted by wrk.
                timeouts[mode] += result["socket_errors"] + connections
                rows.append((f"POST {path}", connections, {"site": result}))
        rss = servers["site"].peak_rss_mb()
    finally:
        for server in servers.values():
            server.stop()

    print(f"\nmake bench: {SECONDS}s per case, wrk -t{THREADS}, {os.cpu_count()} cores, "
          f"database {'PostgreSQL' if env['DATABASE_URL'].startswith('postgres') else 'SQLite'}\n")
    header = f"{'case':34} {'conns':>5} {'server':>6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} " \
             f"{'site/bare':>9} {'site/nginx':>10}"
    print(header)
    print("-" * len(header))
    for case, connections, results in rows:
        site_rps = results["site"]["rps"]
        for name, result in results.items():
            ok = {"200", "304", "303"}
            errors = result["socket_errors"] + sum(v for k, v in result["statuses"].items() if k not in ok)
            if errors:
                failures.append(f"{case} c={connections} {name}: {errors} errors {result['statuses']}")
            ratios = ("", "")
            if name == "site" and "bare" in results:
                ratios = (f"{site_rps / results['bare']['rps']:.2f}",
                          f"{site_rps / results['nginx']['rps']:.2f}" if "nginx" in results else "")
            print(f"{case:34} {connections:>5} {name:>6} {result['rps']:>9.0f} {result['p50_ms']:>8.2f} "
                  f"{result['p99_ms']:>8.2f} {errors:>6} {ratios[0]:>9} {ratios[1]:>10}")
    print(f"\npeak RSS per site worker: {rss:.1f} MB")

    failures += stored_once(accepted, timeouts, count_leads(env), "the database")
    shutil.rmtree(workdir, ignore_errors=True)
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        return 1
    print("\nno errors, no lost or duplicated leads")
    return 0


def stored_once(accepted: dict, timeouts: dict, counted: dict, where: str) -> list[str]:
    """Print what was accepted and stored; the failures where a POST answered as accepted
    is missing or stored twice."""
    print(f"form POSTs answered as accepted: demo {accepted['demo']}, inquiry {accepted['inquiry']}")
    print(f"in {where}, each exactly once: demo {counted['demo']} ({counted['demo_distinct']} distinct), "
          f"inquiry {counted['inquiry']} ({counted['inquiry_distinct']} distinct)")
    failures = []
    for kind in ("demo", "inquiry"):
        # A request wrk gave up on, or had in flight when it stopped, may still have been
        # stored: never fewer rows than answers, never a duplicate, never more than
        # answers plus such requests.
        if not (counted[kind] == counted[f"{kind}_distinct"]
                and accepted[kind] <= counted[kind] <= accepted[kind] + timeouts[kind]):
            failures.append(f"{kind}: {accepted[kind]} accepted, {timeouts[kind]} unanswered at most, "
                            f"{counted[kind]} stored ({counted[f'{kind}_distinct']} distinct)")
    return failures


def count_leads(env: dict) -> dict:
    script = (
        "import json\nfrom sqlalchemy import select, func, distinct\n"
        "from iptor_site import create_app\nfrom iptor_site.core.extensions import db\n"
        "from iptor_site.models import Lead, DemoBooking\napp = create_app()\n"
        "with app.app_context():\n"
        "  q = lambda kind: db.session.execute(select(func.count(), func.count(distinct(Lead.email)))"
        ".where(Lead.kind == kind, Lead.email.like('bench-%'))).one()\n"
        "  d, i = q('demo'), q('inquiry')\n"
        "  slots = db.session.scalar(select(func.count(distinct(DemoBooking.slot_start))))\n"
        "  print(json.dumps({'demo': d[0], 'demo_distinct': min(d[1], slots), 'inquiry': i[0], "
        "'inquiry_distinct': i[1]}))\n"
    )
    out = subprocess.run([VENV_BIN / "python", "-c", script], env=env, cwd=ROOT, capture_output=True,  # noqa: S603
                         text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


if __name__ == "__main__":
    sys.exit(main())
