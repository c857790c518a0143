"""Audit the installed dependencies for known vulnerabilities: pip-audit, and PyPI's own word
where pip-audit gets none.

    python scripts/audit_dependencies.py [--complete]

pip-audit asks PyPI about each installed release (``/pypi/NAME/VERSION/json``). A PyPI mirror
that serves only the project pages (``/pypi/NAME/json``) answers 404 there, and pip-audit then
skips the package and still says "No known vulnerabilities found". For those, a project page
names the vulnerabilities of the project's newest release, so a package pinned at that release
is audited from it; a package pinned behind it stays unaudited and is listed.

Exit 1 if any vulnerability is known; with ``--complete`` (the refresh of constraints.txt, when
every pin should be the newest), also if any package could not be audited.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import urllib.request
from importlib import metadata
from typing import Any

PROJECT_PAGE = "https://pypi.org/pypi/{name}/json"


def pip_audit() -> list[dict[str, Any]]:
    """pip-audit's verdict on every installed distribution but the project itself."""
    command = [sys.executable, "-m", "pip_audit", "--progress-spinner", "off", "--format", "json"]
    done = subprocess.run(command, capture_output=True, text=True)
    if not done.stdout.strip():
        raise SystemExit(f"pip-audit gave no report:\n{done.stderr}")
    dependencies: list[dict[str, Any]] = json.loads(done.stdout)["dependencies"]
    return [dependency for dependency in dependencies if not from_a_folder(dependency["name"])]


def from_a_folder(name: str) -> bool:
    """Installed from a local folder (the project itself, editable), so not on PyPI; pip-audit's
    --skip-editable misses setuptools' PEP 660 installs."""
    direct_url = metadata.distribution(name).read_text("direct_url.json")
    return direct_url is not None and "dir_info" in json.loads(direct_url)


def newest_release_vulnerabilities(name: str) -> tuple[str, list[dict[str, Any]]]:
    """The project's newest version and the vulnerabilities PyPI knows in it."""
    with urllib.request.urlopen(PROJECT_PAGE.format(name=name), timeout=60) as answer:
        page = json.load(answer)
    return page["info"]["version"], page.get("vulnerabilities") or []


def describe(name: str, version: str, vulnerability: dict[str, Any]) -> str:
    fixed = ", ".join(vulnerability.get("fixed_in") or []) or "no fixed release"
    return f"{name} {version}: {vulnerability['id']} (fixed in {fixed})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--complete", action="store_true", help="fail on unaudited packages too")
    args = parser.parse_args()
    known: list[str] = []
    unaudited: list[str] = []
    from_project_page = 0
    dependencies = pip_audit()
    for dependency in dependencies:
        name = dependency["name"]
        if "skip_reason" not in dependency:
            version = dependency["version"]
            known += [describe(name, version, v) for v in dependency.get("vulns", [])]
            continue
        version = metadata.version(name)
        newest, vulnerabilities = newest_release_vulnerabilities(name)
        if newest != version:
            unaudited.append(f"{name} {version} (newest {newest}): {dependency['skip_reason']}")
            continue
        from_project_page += 1
        known += [describe(name, version, v) for v in vulnerabilities if not v.get("withdrawn")]
    audited = len(dependencies) - len(unaudited)
    print(
        f"{audited} of {len(dependencies)} packages audited "
        f"({from_project_page} from PyPI's project pages), {len(known)} known vulnerabilities"
    )
    for line in known:
        print(f"  VULNERABLE {line}")
    for line in unaudited:
        print(f"  not audited: {line}")
    if known or (args.complete and unaudited):
        sys.exit(1)


if __name__ == "__main__":
    main()
