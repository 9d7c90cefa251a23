"""requirements.lock, which `make` installs with --require-hashes, is in step with pyproject.toml."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT_ROOT = Path(__file__).resolve().parents[2]

PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s\\]+)")


def pins():
    """{name: (version, number of hashes)} for every release the lock pins."""
    found, current = {}, None
    for line in (PROJECT_ROOT / "requirements.lock").read_text("utf-8").splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match[1])
            assert current not in found, f"{current} is pinned twice"
            found[current] = [match[2], 0]
        elif line.strip().startswith("--hash=sha256:"):
            found[current][1] += 1
    return found


def declared():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]


def test_every_declared_dependency_is_pinned_within_its_range():
    locked = pins()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is in pyproject.toml but not in requirements.lock: run `make lock`"
        version = locked[name][0]
        assert requirement.specifier.contains(version, prereleases=True), \
            f"requirements.lock pins {name}=={version}, outside {requirement.specifier}: run `make lock`"


def test_every_pin_carries_hashes():
    locked = pins()
    assert len(locked) > len(declared())
    assert [name for name, (_, hashes) in locked.items() if hashes == 0] == []
