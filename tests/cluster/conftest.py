"""`make cluster-test`: one cluster for the session (see clusterhelpers.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from clusterhelpers import CLUSTER_PY, Inbox, RunningCluster, free_port
from iptor_site.core.settings import PROJECT_ROOT


@pytest.fixture(scope="session")
def smtp_sink():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    controller.inbox = inbox
    yield controller
    controller.stop()


@pytest.fixture(scope="session")
def cluster(smtp_sink, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster")
    pointer, log = folder / "state-path", folder / "cluster.log"
    env = dict(os.environ, CLUSTER_STATE=str(pointer), OUTBOX_WORKERS="2", SMTP_HOST="127.0.0.1",
               SMTP_PORT=str(smtp_sink.port), SMTP_TIMEOUT="5", FORM_MIN_FILL_SECONDS="0",
               MAIL_FROM="Iptor <no-reply@iptor.test>", MAIL_SALES_TEAM="sales@iptor.test",
               MAIL_PRIVACY_TEAM="privacy@iptor.test")
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(CLUSTER_PY), "--port", str(free_port())], env=env,
                                cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 180
    while not pointer.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(60)
            pytest.fail("the cluster did not start:\n" + log.read_text()[-4000:])
        time.sleep(0.2)
    running = RunningCluster(proc, Path(pointer.read_text()), log, smtp_sink.inbox)
    yield running
    running.stop()
