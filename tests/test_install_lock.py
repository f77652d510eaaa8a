"""Issue 11, smaller item "installs are not reproducible": the tested versions are locked.

``constraints.txt`` pins every dependency; ``make`` installs from it; ``pyproject.toml`` keeps
lower bounds only, and the pins satisfy them.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep, f"constraints.txt: {line!r} is not an exact pin (NAME==VERSION)"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    reqs += [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    return reqs


def test_installs_reproducible_every_dependency_is_pinned_within_its_lower_bound():
    pins = _pins()
    for req in _requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not locked: run make lock"
        assert req.specifier.contains(pins[name]), f"{req.name}=={pins[name]} breaks {req}"


def test_installs_reproducible_pyproject_keeps_lower_bounds_only():
    for req in _requirements():
        assert all(spec.operator == ">=" for spec in req.specifier), f"{req}: lower bound only"


def test_installs_reproducible_make_installs_from_the_lock_and_can_refresh_it():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    install = re.search(r"pip install -q -c \$\(CONSTRAINTS\) -e '\.\[dev\]'", makefile)
    assert install, "make must install with pip -c constraints.txt"
    assert re.search(r"^CONSTRAINTS := constraints\.txt$", makefile, re.M)
    assert re.search(r"^\$\(STAMP\): pyproject\.toml \$\(CONSTRAINTS\)$", makefile, re.M)
    assert re.search(r"^lock:$", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make lock" in (ROOT / "README.md").read_text(encoding="utf-8")
