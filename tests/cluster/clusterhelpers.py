"""Helpers of `make cluster-test`. One cluster (deploy/cluster.py, exactly what `make cluster` runs) for
the whole session, on free ports, with an SMTP sink (aiosmtpd) that counts what the two
outbox workers send. Clients talk to it as an outside client would: HTTPS through nginx,
the certificate pinned from the cluster's folder; where a test must choose which app
server answers, it sends the request straight to that server with the headers nginx
sets (X-Forwarded-For/-Proto), since nginx's choice is not the test's."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
from http.client import HTTPConnection, HTTPSConnection
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import create_engine

from formhelpers import hidden_fields
from iptor_site.core.settings import PROJECT_ROOT

CLUSTER_PY = PROJECT_ROOT / "deploy" / "cluster.py"


def load_cluster_module():
    spec = importlib.util.spec_from_file_location("iptor_cluster", CLUSTER_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Answer:
    def __init__(self, status, headers, body, via):
        self.status, self.headers, self.body, self.via = status, headers, body, via

    def header(self, name) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def all(self, name) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)


class Visitor:
    """One visitor: its cookies and the address it connects from (any 127.x.y.z is loopback)."""

    def __init__(self, cluster, address="127.0.0.1"):
        self.cluster, self.address, self.cookies = cluster, address, {}

    def request(self, method, path, data=None, headers=None, server=None, timeout=30) -> Answer:
        """Through nginx over HTTPS; or straight to app server ``server`` ("app1", "app2"),
        with the headers nginx would set for this visitor."""
        c = self.cluster
        sent = {"Host": f"127.0.0.1:{c.port}", "Accept-Encoding": "identity", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data).encode()
            sent.update({"Content-Type": "application/x-www-form-urlencoded", "Origin": c.origin,
                         "Referer": c.origin + path})
        if server is None:
            conn = HTTPSConnection("127.0.0.1", c.port, context=c.tls, timeout=timeout,
                                   source_address=(self.address, 0))
        else:
            conn = HTTPConnection("127.0.0.1", c.app_ports[server], timeout=timeout)
            sent.update({"X-Forwarded-For": self.address, "X-Forwarded-Proto": "https",
                         "X-Forwarded-Host": f"127.0.0.1:{c.port}", "X-Forwarded-Port": str(c.port)})
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            answer = Answer(response.status, response.getheaders(), response.read(), server)
        finally:
            conn.close()
        for value in answer.all("Set-Cookie"):
            name, _, rest = value.partition("=")
            cookie_value = rest.split(";", 1)[0]
            if "expires=thu, 01 jan 1970" in value.lower() or "max-age=0" in value.lower():
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = cookie_value
        return answer

    def get(self, path, **kw) -> Answer:
        return self.request("GET", path, **kw)

    def post(self, path, data, **kw) -> Answer:
        return self.request("POST", path, data=data, **kw)


def inquiry(visitor, email, server=None, form_server=None) -> Answer:
    """Open the privacy-request form and send it (the form from ``form_server``, the POST to ``server``)."""
    page = visitor.get("/en/privacy/inquiry", server=form_server)
    assert page.status == 200, page.status
    data = hidden_fields(page.text)
    data.update(name="Camille Martin", email=email, request_type="access", details="", privacy_notice="y", website="")
    return visitor.post("/en/privacy/inquiry", data, server=server)


class Inbox:
    def __init__(self):
        self.recipients = []

    async def handle_DATA(self, server, session, envelope):
        self.recipients.extend(envelope.rcpt_tos)
        return "250 OK"


class RunningCluster:
    def __init__(self, proc, state_path: Path, log: Path, inbox):
        self.proc, self.state_path, self.log, self.inbox = proc, state_path, log, inbox
        self.module = load_cluster_module()
        self.refresh()
        self.port = self.state["port"]
        self.origin = f"https://127.0.0.1:{self.port}"
        self.tls = ssl.create_default_context(cafile=self.state["cert"])  # the cluster's own certificate, pinned
        self.app_ports = self.state["app_ports"]
        self.engine = create_engine(self.state["database_url"].replace("postgresql://", "postgresql+psycopg://"),
                                    pool_pre_ping=True)

    def refresh(self) -> dict:
        self.state = json.loads(self.state_path.read_text())
        return self.state

    def visitor(self, address="127.0.0.1") -> Visitor:
        return Visitor(self, address)

    def flask(self, *args, stdin=None) -> str:
        env = dict(os.environ, **self.state["env"])
        return subprocess.run([str(Path(sys.executable).parent / "flask"), *args], env=env, cwd=PROJECT_ROOT,
                              input=stdin, capture_output=True, text=True, check=True).stdout

    def postgres(self, action: str) -> None:
        self.module.postgres_ctl(self.state["postgres"], action)

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=90)
        self.engine.dispose()
        return self.proc.returncode
