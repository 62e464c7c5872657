"""requirements.lock agrees with pyproject.toml's ranges, is closed under dependencies, and is what this
environment runs (the README's install applies it: `-c requirements.lock`)."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;#]+)")


def pins() -> dict[str, str]:
    text = (ROOT / "requirements.lock").read_text()
    return {canonicalize_name(m[1]): m[2] for line in text.splitlines() if (m := PIN.match(line))}


def direct() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {})
    return [Requirement(r) for r in project["dependencies"] + [r for group in extras.values() for r in group]]


def applies(req: Requirement, extras: frozenset[str] = frozenset()) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({**default_environment(), "extra": e}) for e in extras | {""})


@pytest.mark.parametrize("req", direct(), ids=str)
def test_every_direct_dependency_is_pinned_within_its_range(req):
    pinned = pins()
    name = canonicalize_name(req.name)
    assert name in pinned, f"{req.name} is in pyproject.toml but not in requirements.lock: refresh the lock"
    assert req.specifier.contains(pinned[name], prereleases=True), f"{name}=={pinned[name]} is outside {req}"


def test_the_lock_holds_every_dependency_of_what_it_pins():
    """Closed: each pinned package's own requirements (on this platform) are pinned too, at versions they
    accept, read from the installed packages' metadata."""
    pinned = pins()
    missing, outside = [], []
    for name in pinned:
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed on this platform (checked below where it is)
        for req in map(Requirement, requires):
            if not applies(req):  # an extra's requirement, or another platform's
                continue
            dep = canonicalize_name(req.name)
            if dep not in pinned:
                missing.append(f"{name} -> {req}")
            elif not req.specifier.contains(pinned[dep], prereleases=True):
                outside.append(f"{name} -> {req}, pinned {pinned[dep]}")
    assert not missing and not outside, f"missing: {missing}; outside their range: {outside}"


def test_this_environment_runs_the_pinned_versions():
    """The README's commands install under the lock, so every locked package present here is at its pin."""
    differ = []
    for name, version in pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        if installed != version:
            differ.append(f"{name}: installed {installed}, locked {version}")
    assert not differ, differ


def test_torch_is_one_whose_weights_only_loading_is_safe():
    """torch 2.10 fixed the last known way for a crafted file to run code under weights_only=True
    (GHSA-63cw-57p8-fm3p); the app opens checkpoints that students upload."""
    spec = next(r for r in direct() if canonicalize_name(r.name) == "torch").specifier
    assert not spec.contains("2.9.1") and spec.contains("2.10.0")
    assert tuple(int(p) for p in pins()["torch"].split(".")[:2]) >= (2, 10)
