"""`make audit`: pip-audit over the lock files, with PyPI's JSON API as the vulnerability service.

    python tools/audit.py [pip-audit options] -r requirements.lock -r requirements-dev.lock

pip-audit reads each pinned release's known vulnerabilities from PyPI's per-release route
(`/pypi/NAME/VERSION/json`). Where only the project route (`/pypi/NAME/json`) is served, as on
this project's machines (their only network is the package registries, and that is the part of
PyPI they are given), the project route still carries the vulnerabilities of the project's
newest release: a pin that is the newest release is audited from it. A pin behind the newest
release cannot be audited there; it is listed as not audited, with the newer version, and
pip-audit's `--strict` makes that fatal. A package PyPI does not know, or any answer other
than 200/404, ends the audit with an error: nothing is skipped silently.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import requests
from packaging.version import Version
from pip_audit import _cli
from pip_audit._service import PyPIService
from pip_audit._service.interface import (
    ConnectionError as ServiceConnectionError,
)
from pip_audit._service.interface import (
    Dependency,
    SkippedDependency,
    VulnerabilityResult,
)

RELEASE_ROUTE = re.compile(r"https://pypi\.org/pypi/(?P<name>[^/]+)/(?P<version>[^/]+)/json")
PROJECT_ROUTE = "https://pypi.org/pypi/{name}/json"


class ProjectRouteSession:
    """A requests session for pip-audit: a release route that answers 404 is answered from the
    project route when that release is the project's newest. Other releases are remembered in
    `behind` (name -> newest version) and keep their 404."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.behind: dict[str, str] = {}

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        response = self._get(url, **kwargs)
        release = RELEASE_ROUTE.fullmatch(url)
        if release is None or response.status_code != 404:
            return response
        name = release["name"]
        project = self._get(PROJECT_ROUTE.format(name=name), **kwargs)
        if project.status_code != 200:
            raise ServiceConnectionError(
                f"cannot audit {name}: PyPI answered {response.status_code} for {url} "
                f"and {project.status_code} for its project route"
            )
        newest = str(project.json()["info"]["version"])
        if Version(newest) == Version(release["version"]):
            return project
        self.behind[name] = newest
        return response

    def _get(self, url: str, **kwargs: Any) -> requests.Response:
        try:
            response: requests.Response = self.session.get(url, **kwargs)
        except requests.RequestException as error:
            raise ServiceConnectionError(f"PyPI could not be asked ({url}): {error}") from error
        return response


class ProjectRoutePyPIService(PyPIService):
    """pip-audit's PyPI service over `ProjectRouteSession`."""

    session: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.routes = ProjectRouteSession(self.session)
        self.session = self.routes
        self.not_audited: list[str] = []

    def query(self, spec: Dependency) -> tuple[Dependency, list[VulnerabilityResult]]:
        found, vulns = super().query(spec)
        newest = self.routes.behind.get(spec.canonical_name)
        if not found.is_skipped() or spec.is_skipped() or newest is None:
            return found, vulns
        version = getattr(spec, "version", "?")
        self.not_audited.append(f"{spec.canonical_name}=={version} (newest {newest})")
        reason = (
            f"not audited: PyPI serves no per-release data here and {version} is not the newest "
            f"release ({newest}); `make lock` with the newer version makes it auditable"
        )
        return SkippedDependency(name=spec.name, skip_reason=reason), []


def main() -> None:
    services: list[ProjectRoutePyPIService] = []

    def service(*args: Any, **kwargs: Any) -> ProjectRoutePyPIService:
        services.append(ProjectRoutePyPIService(*args, **kwargs))
        return services[-1]

    _cli.PyPIService = service
    sys.argv[0] = "pip-audit"
    try:
        _cli.audit()
    finally:
        skipped = sorted({pin for s in services for pin in s.not_audited})
        if skipped:
            print(
                f"NOT AUDITED ({len(skipped)}): {', '.join(skipped)}; only the newest release of a "
                "project can be audited from PyPI's project route (AUDIT_STRICT=1 makes this fatal)",
                file=sys.stderr,
            )


if __name__ == "__main__":
    main()
