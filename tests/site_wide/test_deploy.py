"""deploy/: the nginx template renders to a configuration nginx accepts, and the systemd units are valid."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from iptor_site.core.settings import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"


def cluster_module():
    spec = importlib.util.spec_from_file_location("iptor_cluster", DEPLOY / "cluster.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("iptor_cluster", module)
    spec.loader.exec_module(module)
    return module


def rendered(tmp_path, **overrides) -> str:
    values = {"RUN_DIR": str(tmp_path / "run"), "LISTEN": "127.0.0.1:18443", "SERVER_NAME": "localhost",
                  "CERT": str(tmp_path / "cert.pem"), "KEY": str(tmp_path / "key.pem"), "STATIC": str(PROJECT_ROOT / "static"),
                  "UPSTREAMS": "server 127.0.0.1:18001;\n        server 127.0.0.1:18002;", "MAX_BODY": "65536"}
    values.update(overrides)
    return cluster_module().render_nginx((DEPLOY / "nginx.conf").read_text(), **values)


def test_the_template_names_every_placeholder_it_uses(tmp_path):
    values = {"RUN_DIR": "r", "LISTEN": "l", "SERVER_NAME": "s", "CERT": "c", "KEY": "k", "STATIC": "st", "UPSTREAMS": "u",
                  "MAX_BODY": "1"}
    with pytest.raises(ValueError, match="placeholder"):
        cluster_module().render_nginx((DEPLOY / "nginx.conf").read_text(),
                                      **{k: v for k, v in values.items() if k != "STATIC"})
    text = cluster_module().render_nginx((DEPLOY / "nginx.conf").read_text(), **values)
    assert "client_max_body_size 1;" in text


def test_nginx_accepts_the_rendered_configuration(tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx is not installed (apt-get install nginx)")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True)
    (tmp_path / "run").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(rendered(tmp_path))
    result = subprocess.run([nginx, "-t", "-c", str(conf), "-p", str(tmp_path / "run")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_the_systemd_units_are_valid(tmp_path):
    """systemd-analyze checks every directive and that each command exists: the units are
    checked with /srv/iptor pointed at this checkout. (Debian's CI images may lack systemd.)"""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the systemd package); the units are not checked")
    env_file = tmp_path / "iptor.env"
    env_file.write_text("IPTOR_ENV=production\n")
    units = []
    for unit in sorted((DEPLOY / "systemd").iterdir()):
        text = unit.read_text().replace("/srv/iptor", str(PROJECT_ROOT)).replace("/etc/iptor/iptor.env", str(env_file))
        name = unit.name.replace("@.service", "@8001.service")  # a template is checked as an instance
        (tmp_path / name).write_text(text)
        if name == "iptor-app@8001.service":
            (tmp_path / unit.name).write_text(text)
        units.append(name)
    assert {"iptor-app@8001.service", "iptor-outbox.service", "iptor-retention.service",
            "iptor-retention.timer"} <= set(units)
    result = subprocess.run([analyze, "verify", "--man=no", *units], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # Unknown directives are only warned about: none may be left.
    assert not [line for line in result.stderr.splitlines() if "iptor" in line], result.stderr


def test_the_units_run_the_commands_the_site_has(make_app):
    outbox = (DEPLOY / "systemd" / "iptor-outbox.service").read_text()
    retention = (DEPLOY / "systemd" / "iptor-retention.service").read_text()
    assert "ExecStart=/srv/iptor/.venv/bin/flask outbox work" in outbox
    assert "ExecStart=/srv/iptor/.venv/bin/flask retention purge" in retention
    runner = make_app().test_cli_runner()
    for command in (["outbox", "work", "--help"], ["retention", "purge", "--help"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output
