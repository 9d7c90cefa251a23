"""`make bench CLUSTER=1`: the bench's cases through the whole stack that `make cluster` runs
(nginx with TLS and its micro-cache, two app servers, PostgreSQL, Redis, the outbox worker),
beside nginx serving the same pages as files over HTTPS with the same certificate.

Prints one table and checks that every form POST answered as accepted is in PostgreSQL
exactly once; it fails on errors or lost or duplicated leads, never on speed. The
targets of issue 18 are printed beside the figures: cached pages at 0.5 of the static
file's rate or better at 32 connections, and 100 accepted form POSTs a second or more.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import run

CLUSTER_PY = run.ROOT / "deploy" / "cluster.py"
#: Settings of the bench (its fast forms, high limits, large calendar) the cluster's servers get.
BENCH_SETTINGS = ("FORM_MIN_FILL_SECONDS", "RATELIMIT_FORM_PER_IP", "RATELIMIT_FORM_PER_EMAIL", "DEMO_DAY_START",
                  "DEMO_DAY_END", "DEMO_SLOT_MINUTES", "DEMO_WORKDAYS", "DEMO_DAYS_AHEAD")
STATIC_CONF = """
worker_processes 2;
pid {workdir}/static-nginx.pid;
error_log {workdir}/static-nginx-error.log;
daemon off;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {workdir}/static-body;
  server {{
    listen 127.0.0.1:{port} ssl http2;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_session_cache shared:bench_tls:1m;
    root {pages};
    location / {{ default_type text/html; etag on; }}
  }}
}}
"""


def load_cluster():
    spec = importlib.util.spec_from_file_location("iptor_cluster", CLUSTER_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    cluster_module = load_cluster()
    workdir = Path(run.tempfile.mkdtemp(prefix="iptor-bench-cluster-"))
    workdir.chmod(0o755)
    settings = run.site_env(workdir)
    os.environ.update({key: settings[key] for key in BENCH_SETTINGS})
    cluster = cluster_module.Cluster(port=run.free_port())
    static = None
    rows, failures = [], []
    try:
        state = cluster.start()
        env = cluster.app_env
        context = ssl.create_default_context(cafile=state["cert"])
        run.SSL_CONTEXT = context
        site = state["url"].rstrip("/")
        pages = workdir / "pages"
        for path in run.GET_PATHS:
            with urllib.request.urlopen(site + path, timeout=10, context=context) as response:  # noqa: S310
                target = pages / path.strip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(response.read())
        static_port = run.free_port()
        conf = workdir / "static-nginx.conf"
        conf.write_text(STATIC_CONF.format(workdir=workdir, port=static_port, cert=state["cert"],
                                           key=Path(state["cert"]).with_name("key.pem"), pages=pages))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        static = run.Server([nginx, "-c", str(conf), "-p", str(workdir)], dict(os.environ), workdir / "static.log")
        static_url = f"https://127.0.0.1:{static_port}"
        cluster_module.wait_until(lambda: cluster_module.answers(static_url + run.GET_PATHS[0], context),
                                  "nginx (static)", process=static.proc)

        for base in (site, static_url):  # warm: every app worker renders, nginx caches
            for path in run.GET_PATHS:
                run.wrk(base + path, max(run.CONNECTIONS), seconds=1)
        for connections in run.CONNECTIONS:
            for path in run.GET_PATHS:
                rows.append((f"GET {path}", connections, {"stack": run.wrk(site + path, connections),
                                                          "static": run.wrk(static_url + path, connections)}))

        accepted = {"demo": 0, "inquiry": 0}
        timeouts = {"demo": 0, "inquiry": 0}
        slots_file = workdir / "slots.txt"
        slots_file.write_text(subprocess.run(  # noqa: S603
            [run.VENV_BIN / "python", "-c",
             "from iptor_site import create_app\nfrom iptor_site.demo import slots\napp = create_app()\n"
             "with app.app_context(): print('\\n'.join(slots.slot_value(s) for s in slots.offered()))"],
            env=env, cwd=run.ROOT, capture_output=True, text=True, check=True).stdout)
        for index, connections in enumerate(run.CONNECTIONS):
            for mode, path in (("demo", "/en/demo"), ("inquiry", "/en/privacy/inquiry")):
                extra = run.form_session(site, path)
                extra.update(BENCH_SLOTS=str(slots_file), BENCH_RUN=f"c{index}",
                             BENCH_SLOT_OFFSET=str(index * 600 * run.SECONDS))
                result = run.wrk(site + path, connections, mode, extra)
                accepted[mode] += result["statuses"].get("303", 0)
                timeouts[mode] += result["socket_errors"] + connections
                rows.append((f"POST {path}", connections, {"stack": result}))
        counted = run.count_leads(env)
    finally:
        if static is not None:
            static.stop()
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nmake bench CLUSTER=1: {run.SECONDS}s per case, wrk -t{run.THREADS} over HTTPS (HTTP/1.1), "
          f"{os.cpu_count()} cores; the stack is nginx (TLS, micro-cache) + 2 app servers + PostgreSQL + Redis\n")
    header = (f"{'case':28} {'conns':>5} {'server':>6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
              f"{'target':>22}")
    print(header)
    print("-" * len(header))
    for case, connections, results in rows:
        for name, result in results.items():
            ok = {"200", "303"}
            errors = result["socket_errors"] + sum(v for k, v in result["statuses"].items() if k not in ok)
            if errors:
                failures.append(f"{case} c={connections} {name}: {errors} errors {result['statuses']}")
            target = ""
            if name == "stack" and "static" in results:
                ratio = result["rps"] / results["static"]["rps"]
                target = f"{ratio:.2f} of static" + (" (>= 0.5)" if connections >= 32 else "")
            elif name == "stack":
                per_second = result["statuses"].get("303", 0) / result["seconds"]
                target = f"{per_second:.0f} accepted/s (>= 100)"
            print(f"{case:28} {connections:>5} {name:>6} {result['rps']:>9.0f} {result['p50_ms']:>8.2f} "
                  f"{result['p99_ms']:>8.2f} {errors:>6} {target:>22}")
    print()
    failures += run.stored_once(accepted, timeouts, counted, "PostgreSQL")
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        return 1
    print("\nno errors, no lost or duplicated leads")
    return 0


if __name__ == "__main__":
    sys.exit(main())
