"""`make cluster`: the production shape on one machine, on loopback, in the foreground.

In a fresh temporary folder it makes a self-signed certificate (openssl), starts
PostgreSQL on a port of its own (initdb, then `flask db upgrade`), Redis (rate limits),
APP_SERVERS app servers under the project's gunicorn.conf.py, OUTBOX_WORKERS outbox
workers (`flask outbox work`) and nginx with deploy/nginx.conf on PORT (8443), prints
the URL, and keeps them running: an app server or worker that dies is started again,
as systemd would. Ctrl-C or SIGTERM stops every process it started and deletes the
folder.

Everything a client or a test needs to find is in `<folder>/cluster.json` (ports,
process ids, the certificate, the database URL, the app's environment in `app.env`);
CLUSTER_STATE names a file to which that path is written once the cluster is up.
Settings the caller sets in the environment (SMTP_HOST, FORM_MIN_FILL_SECONDS, ...)
reach the app servers and workers unless the cluster sets them itself.
Needs Debian's nginx, postgresql, redis-server and openssl; stdlib only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
TEMPLATE = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
STATE = "cluster.json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not found:
        raise SystemExit("make cluster needs PostgreSQL (apt-get install postgresql)")
    return found[-1]


def render_nginx(template: str, **values: str) -> str:
    """deploy/nginx.conf with every @@NAME@@ filled in; a name left unfilled is an error."""
    lines = []
    for line in template.splitlines(keepends=True):
        if not line.lstrip().startswith("#"):  # the comments name the placeholders
            for name, value in values.items():
                line = line.replace(f"@@{name}@@", value)
            if "@@" in line:
                raise ValueError(f"deploy/nginx.conf has a placeholder the cluster does not fill: {line.strip()}")
        lines.append(line)
    return "".join(lines)


class Interrupted(Exception):
    """Ctrl-C or SIGTERM while the cluster was starting."""


def wait_until(check, what: str, timeout: float = 60, process: subprocess.Popen | None = None,
               stopping=lambda: False) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if stopping():
            raise Interrupted(what)
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} (see its log)")
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s")


def answers(url: str, context=None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context):  # noqa: S310 - loopback only
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class Cluster:
    def __init__(self, port: int = 8443, app_servers: int = 2, outbox_workers: int = 1,
                 web_concurrency: int = 2, stopping=lambda: False):
        self.stopping = stopping
        self.port = port
        self.app_servers = app_servers
        self.outbox_workers = outbox_workers
        self.web_concurrency = web_concurrency
        self.workdir: Path | None = None
        self.processes: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, tuple[list, dict]] = {}
        self.state: dict = {}
        self.as_postgres = os.geteuid() == 0  # PostgreSQL refuses to run as root

    # --- starting -------------------------------------------------------------------------
    def start(self) -> dict:
        self.workdir = Path(tempfile.mkdtemp(prefix="iptor-cluster-"))
        self.workdir.chmod(0o755)  # nginx's workers (another user when run as root) read from it
        (self.workdir / "logs").mkdir()
        try:
            self._certificate()
            self._postgres()
            self._redis()
            self._migrate()
            for n in range(1, self.app_servers + 1):
                port = free_port()
                self.state.setdefault("app_ports", {})[f"app{n}"] = port
                self._spawn(f"app{n}", [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py",
                                        "--bind", f"127.0.0.1:{port}", "--control-socket",
                                        str(self.workdir / f"app{n}.ctl"), "wsgi:app"], self.app_env)
            for n in range(1, self.outbox_workers + 1):
                self._spawn(f"outbox{n}", [str(VENV_BIN / "flask"), "outbox", "work"], self.app_env)
            for name, port in self.state["app_ports"].items():
                wait_until(lambda port=port: answers(f"http://127.0.0.1:{port}/healthz"), name,
                           process=self.processes[name], stopping=self.stopping)
            self._nginx()
        except BaseException:
            self.stop()
            raise
        self._write_state()
        return self.state

    def _run(self, args, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)  # noqa: S603

    def _certificate(self) -> None:
        cert, key = self.workdir / "cert.pem", self.workdir / "key.pem"
        self._run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",  # noqa: S607
                   "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                   "-keyout", str(key), "-out", str(cert)])
        key.chmod(0o600)
        self.state.update(cert=str(cert))

    def _postgres(self) -> None:
        pg = postgres_bin()
        data = self.workdir / "pgdata"
        data.mkdir(mode=0o700)
        user = {}
        if self.as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(data, entry.pw_uid, entry.pw_gid)
            os.chown(self.workdir / "logs", entry.pw_uid, entry.pw_gid)
            user = {"user": entry.pw_uid, "group": entry.pw_gid}
        port = free_port()
        self._run([str(pg / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                   "--no-sync"], **user)
        self.state.update(postgres={
            "pg_ctl": str(pg / "pg_ctl"), "data": str(data), "port": port,
            "log": str(self.workdir / "logs" / "postgres.log"), "user": user,
            "options": f"-h 127.0.0.1 -p {port} -k {data} -c fsync=off -c max_connections=200",
        })
        postgres_ctl(self.state["postgres"], "start")
        self._run([str(pg / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "iptor"])
        self.state["database_url"] = f"postgresql://postgres@127.0.0.1:{port}/iptor"

    def _redis(self) -> None:
        port = free_port()
        redis_dir = self.workdir / "redis"
        redis_dir.mkdir()
        self.state["redis_port"] = port
        self._spawn("redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(redis_dir),
                              "--save", "", "--appendonly", "no"], dict(os.environ))
        wait_until(lambda: _connects(port), "Redis", process=self.processes["redis"], stopping=self.stopping)

    @property
    def app_env(self) -> dict:
        env = dict(os.environ)
        env.update(self.state["env"])
        return env

    def _migrate(self) -> None:
        site_url = f"https://127.0.0.1:{self.port}"
        settings = {
            "FLASK_APP": "iptor_site",
            "IPTOR_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "SITE_URL": site_url,
            "TRUSTED_HOSTS": "127.0.0.1,localhost",
            "TRUSTED_PROXIES": "1",
            "DATABASE_URL": self.state["database_url"],
            "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{self.state['redis_port']}/0",
            "MAIL_DIR": str(self.workdir / "mail"),
            "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", str(self.web_concurrency)),
        }
        self.state.update(env=settings, url=site_url + "/", port=self.port)
        env_file = self.workdir / "app.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        env_file.chmod(0o600)
        self._run([str(VENV_BIN / "flask"), "db", "upgrade"], env=self.app_env, cwd=ROOT)

    def _nginx(self) -> None:
        max_body = self._app_setting("MAX_CONTENT_LENGTH")
        upstreams = "\n        ".join(f"server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;"
                                       for port in self.state["app_ports"].values())
        conf = self.workdir / "nginx.conf"
        conf.write_text(render_nginx(
            TEMPLATE.read_text(), RUN_DIR=str(self.workdir / "nginx"), LISTEN=f"127.0.0.1:{self.port}",
            SERVER_NAME="localhost 127.0.0.1", CERT=self.state["cert"], KEY=str(self.workdir / "key.pem"),
            STATIC=str(ROOT / "static"), UPSTREAMS=upstreams, MAX_BODY=str(max_body)))
        (self.workdir / "nginx").mkdir()
        self._spawn("nginx", [NGINX, "-c", str(conf), "-p", str(self.workdir / "nginx"), "-g", "daemon off;"],
                    dict(os.environ))

        context = ssl.create_default_context(cafile=self.state["cert"])
        wait_until(lambda: answers(f"https://127.0.0.1:{self.port}/healthz", context), "nginx",
                   process=self.processes["nginx"], stopping=self.stopping)

    def _app_setting(self, name: str):
        out = self._run([str(VENV_BIN / "python"), "-c",
                         f"from iptor_site import create_app; print(create_app().config[{name!r}])"],
                        env=self.app_env, cwd=ROOT).stdout
        return out.strip().splitlines()[-1]

    def _spawn(self, name: str, args: list, env: dict) -> None:
        self.commands[name] = (args, env)
        log = (self.workdir / "logs" / f"{name}.log").open("ab")
        # A session of its own: the whole server (a gunicorn master and its workers) is one
        # process group, stopped (or, in the tests, killed) together.
        self.processes[name] = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=log,  # noqa: S603
                                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.state.setdefault("pids", {})[name] = self.processes[name].pid

    def _write_state(self) -> None:
        path = self.workdir / STATE
        path.write_text(json.dumps(self.state, indent=2))
        path.chmod(0o600)

    # --- running --------------------------------------------------------------------------
    def supervise(self, stopping) -> None:
        """Start again, like systemd's Restart=, an app server or worker that died."""
        while not stopping():
            for name, proc in list(self.processes.items()):
                if proc.poll() is not None and not stopping():
                    print(f"{name} exited ({proc.returncode}); starting it again", flush=True)
                    self._spawn(name, *self.commands[name])
                    self._write_state()
            time.sleep(0.2)

    # --- stopping -------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every process this cluster started (nginx first, PostgreSQL last), then delete its folder."""
        for name in sorted(self.processes, key=lambda n: (n != "nginx", n.startswith("redis"))):
            proc = self.processes[name]
            _signal_group(proc, signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=25)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=5)
        for proc in self.processes.values():
            _signal_group(proc, signal.SIGKILL)  # anything left in a group whose leader exited
        self.processes.clear()
        if "postgres" in self.state:
            with contextlib.suppress(subprocess.CalledProcessError):  # not running
                postgres_ctl(self.state["postgres"], "stop")
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


def _connects(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def postgres_ctl(pg: dict, action: str) -> None:
    """Start or stop (fast: open connections are cut) the cluster's PostgreSQL; used by the tests too."""
    args = [pg["pg_ctl"], "-D", pg["data"], "-w", "-t", "60"]
    if action == "start":
        args += ["-l", pg["log"], "-o", pg["options"], "start"]
    else:
        args += ["-m", "fast", "stop"]
    subprocess.run(args, check=True, capture_output=True, **pg["user"])  # noqa: S603


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8443")))
    parser.add_argument("--app-servers", type=int, default=int(os.environ.get("APP_SERVERS", "2")))
    parser.add_argument("--outbox-workers", type=int, default=int(os.environ.get("OUTBOX_WORKERS", "1")))
    args = parser.parse_args()
    for tool in ("openssl", "redis-server"):
        if not shutil.which(tool):
            print(f"make cluster needs {tool} (apt-get install {tool})", file=sys.stderr)
            return 2
    if not Path(NGINX).exists():
        print("make cluster needs nginx (apt-get install nginx)", file=sys.stderr)
        return 2
    stop_requested = []

    def request_stop(signum, frame):
        stop_requested.append(signum)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    cluster = Cluster(args.port, args.app_servers, args.outbox_workers, stopping=lambda: bool(stop_requested))
    try:
        try:
            state = cluster.start()
        except Interrupted:
            return 1
        if os.environ.get("CLUSTER_STATE"):
            Path(os.environ["CLUSTER_STATE"]).write_text(str(cluster.workdir / STATE))
        print(f"cluster up: {state['url']}  (certificate {state['cert']}; state {cluster.workdir / STATE})",
              flush=True)
        print("Ctrl-C stops it.", flush=True)
        cluster.supervise(lambda: bool(stop_requested))
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        cluster.stop()
        print("cluster stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
