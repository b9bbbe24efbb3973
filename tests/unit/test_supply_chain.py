"""Supply chain: the lock files pin, with hashes, every dependency pyproject.toml declares, at the
declared version (so they cannot drift apart); the image's base is pinned by digest; and the audit
reads PyPI's project route only for a pin that is the newest release, never passing over another."""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
SHA256 = re.compile(r"--hash=sha256:[0-9a-f]{64}")

AUDIT = ROOT / "tools/audit.py"
spec = importlib.util.spec_from_file_location("tools_audit", AUDIT)
assert spec and spec.loader
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)


@dataclass(frozen=True)
class Pin:
    version: Version
    hashes: tuple[str, ...]


def read_lock(path: Path) -> dict[str, Pin]:
    """Each entry of a lock file: `name==version [; marker]` and its `--hash` options."""
    pins: dict[str, Pin] = {}
    for entry in path.read_text(encoding="utf-8").replace("\\\n", " ").splitlines():
        if not entry.strip() or entry.lstrip().startswith("#"):
            continue
        requirement, *options = entry.split(" --")
        req = Requirement(requirement.strip())
        specifiers = list(req.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{path.name}: not pinned: {entry}"
        hashes = tuple(SHA256.findall(entry))
        assert hashes, f"{path.name}: {req.name} has no hash"
        assert len(hashes) == len(options), f"{path.name}: {req.name}: an option that is not a hash"
        name = canonicalize_name(req.name)
        assert name not in pins, f"{path.name}: {name} twice"
        pins[name] = Pin(Version(specifiers[0].version), hashes)
    return pins


def declared(*groups: list[str]) -> list[Requirement]:
    return [Requirement(line) for group in groups for line in group]


RUNTIME = declared(PYPROJECT["project"]["dependencies"])
DEV = declared(PYPROJECT["project"]["optional-dependencies"]["dev"])
BOOTSTRAP = declared(PYPROJECT["dependency-groups"]["bootstrap"], PYPROJECT["build-system"]["requires"])


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [(RUNTIME_LOCK, RUNTIME + BOOTSTRAP), (DEV_LOCK, RUNTIME + DEV + BOOTSTRAP)],
    ids=["runtime", "dev"],
)
def test_the_lock_pins_every_declared_dependency_at_its_declared_version(
    lock: Path, requirements: list[Requirement]
) -> None:
    pins = read_lock(lock)
    for req in requirements:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req} is in pyproject.toml but not in {lock.name}: run `make lock`"
        assert req.specifier.contains(pins[name].version, prereleases=True), (
            f"{req} is in pyproject.toml but {lock.name} has {pins[name].version}: run `make lock`"
        )


def test_the_dev_lock_holds_the_runtime_lock_as_it_is() -> None:
    """What the image runs on is what the tests ran against: the same versions, the same files."""
    runtime, dev = read_lock(RUNTIME_LOCK), read_lock(DEV_LOCK)
    for name, pin in runtime.items():
        assert dev.get(name) == pin, (
            f"{name}: {pin.version} in requirements.lock, {dev.get(name)} in the dev lock"
        )


def test_a_lock_entry_without_a_hash_or_a_pin_is_refused(tmp_path: Path) -> None:
    digest = "0" * 64
    cases = {
        "demo==1.0\n": "has no hash",
        f"demo>=1.0 \\\n    --hash=sha256:{digest}\n": "not pinned",
        f"demo==1.0 \\\n    --hash=sha256:{digest} \\\n    --index-url=https://example.org\n": "not a hash",
    }
    for text, error in cases.items():
        lock = tmp_path / "bad.lock"
        lock.write_text(text, encoding="utf-8")
        with pytest.raises(AssertionError, match=error):
            read_lock(lock)


def test_installs_go_through_the_locks_with_hashes_and_the_base_image_by_digest() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "install -q --require-hashes --only-binary :all: -r requirements-dev.lock" in makefile
    dockerfile = (ROOT / "deploy/docker/Dockerfile").read_text(encoding="utf-8")
    assert "--require-hashes --only-binary :all: -r /tmp/requirements.lock" in dockerfile
    bases = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert bases, "no FROM line"
    for base in bases:
        assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", base), (
            f"base not pinned by digest: {base}"
        )


def response(status: int, body: dict[str, Any] | None = None) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = json.dumps(body or {}).encode()
    return answer


class FakePyPI:
    """PyPI as this project's machines see it: the per-release route answers 404."""

    def __init__(self, projects: dict[str, dict[str, Any]]) -> None:
        self.projects = projects

    def get(self, url: str, **_: Any) -> requests.Response:
        name = url.split("/")[4]
        if url.count("/") == 5 and name in self.projects:
            return response(200, self.projects[name])
        return response(404)


def audited(projects: dict[str, dict[str, Any]], name: str, version: str, tmp_path: Path) -> Any:
    from pip_audit._service.interface import ResolvedDependency

    service = audit.ProjectRoutePyPIService(cache_dir=tmp_path)
    service.routes.session = FakePyPI(projects)
    return service, service.query(ResolvedDependency(name=name, version=Version(version)))


VULNERABLE = {
    "info": {"version": "0.19.2"},
    "vulnerabilities": [{"id": "GHSA-wj6h-64fc-37mp", "aliases": ["CVE-2024-23342"], "fixed_in": []}],
}


def test_the_newest_release_is_audited_from_the_project_route(tmp_path: Path) -> None:
    _, (dependency, vulns) = audited({"ecdsa": VULNERABLE}, "ecdsa", "0.19.2", tmp_path)
    assert not dependency.is_skipped()
    assert len(vulns) == 1 and vulns[0].has_any_id({"GHSA-wj6h-64fc-37mp"})


def test_an_older_release_is_reported_as_not_audited(tmp_path: Path) -> None:
    service, (dependency, vulns) = audited({"ecdsa": VULNERABLE}, "ecdsa", "0.19.1", tmp_path)
    assert dependency.is_skipped() and vulns == []
    assert "not audited" in dependency.skip_reason and "0.19.2" in dependency.skip_reason
    assert service.not_audited == ["ecdsa==0.19.1 (newest 0.19.2)"]


def test_a_package_pypi_does_not_know_fails_the_audit(tmp_path: Path) -> None:
    from pip_audit._service.interface import ConnectionError as ServiceConnectionError

    with pytest.raises(ServiceConnectionError, match="cannot audit"):
        audited({}, "no-such-package", "1.0", tmp_path)
