"""`slicer.packaging` of the double (Slicer 5.11+): Slicer's pip helpers with their signatures and
decisions (mirrors packaging.py), except that pip never runs.

What would reach pip is recorded instead, for tests to read (and clear between tests):

- `_installRequests`: one list per `pip_install` call that would run pip, the requirement strings it would
  install (`no_deps_requirements` first, as Slicer installs those first; with `skip_packages`, what the
  skip walk leaves, each as "name[extras]specifier").
- `_uninstallRequests`: one list per `pip_uninstall` call, the arguments pip would get after "uninstall".

Nothing gets installed, so checks (`pip_check`) still see the environment as it was, and `pip_ensure`
never finds an updated package to propose a restart for.

Like Slicer's, this module is not an attribute of `slicer` until something imports `slicer.packaging`.
"""
from __future__ import annotations

import importlib.metadata
import logging
import shlex
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import slicer.util
from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from slicer.i18n import tr as _

if TYPE_CHECKING:
    from collections.abc import Callable

_installRequests: list[list[str]] = []
_uninstallRequests: list[list[str]] = []


def load_requirements(path: str | Path) -> list[Requirement]:
    """The requirements of a requirements.txt; comments, blank lines and pip options ("-r", "--index-url")
    are skipped."""
    lines = (line.strip() for line in Path(path).read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith(("#", "-"))]


def load_pyproject_dependencies(path: str | Path) -> list[Requirement]:
    """The `[project] dependencies` of a pyproject.toml ([] when the key is absent); KeyError without a
    [project] table."""
    data = tomllib.loads(Path(path).read_text())
    if "project" not in data:
        raise KeyError(f"pyproject.toml has no [project] table: {path}")
    return [Requirement(dependency) for dependency in data["project"].get("dependencies", [])]


def _to_requirements(reqs: str | Requirement | list[str | Requirement]) -> list[Requirement]:
    """A list of Requirements from one string (a requirement with its marker, or several plain ones separated
    by spaces), one Requirement, or a list of both kinds."""
    if isinstance(reqs, str):
        try:
            return [Requirement(reqs)]  # whole string first: a marker contains spaces
        except InvalidRequirement:
            return [Requirement(part) for part in reqs.split()]
    if isinstance(reqs, Requirement):
        return [reqs]
    if isinstance(reqs, list):
        return [Requirement(r) if isinstance(r, str) else r for r in reqs]
    raise TypeError(f"Expected str, Requirement, or list, got {type(reqs).__name__}")


def pip_check(req: str | Requirement | list[str | Requirement],
              _seen: set[tuple[str, frozenset[str]]] | None = None) -> bool:
    """True when every requirement is met by the installed distributions (no subprocess): the version is
    in the specifier and, for "pkg[extra]", so are the dependencies the extras add, recursively. A
    requirement whose marker excludes this environment is met. `_seen` is for the recursion only."""
    if _seen is None:
        seen: set[tuple[str, frozenset[str]]] = set()
        return all(pip_check(r, seen) for r in _to_requirements(req))
    environment = default_environment()
    if req.marker is not None and not req.marker.evaluate(environment):
        return True
    key = (req.name.lower(), frozenset(req.extras))
    if key in _seen:
        return True  # already being checked: a dependency cycle
    _seen.add(key)
    try:
        installed = importlib.metadata.version(req.name)
    except importlib.metadata.PackageNotFoundError:
        return False
    if installed not in req.specifier:
        return False
    return all(pip_check(dependency, _seen) for dependency in _addedByExtras(req, environment))


def _addedByExtras(req: Requirement, environment: dict[str, str]) -> list[Requirement]:
    """The installed distribution's dependencies that `req`'s extras switch on, without their markers."""
    added = []
    for text in importlib.metadata.requires(req.name) or []:
        dependency = Requirement(text)
        if dependency.marker is not None and any(
                dependency.marker.evaluate({**environment, "extra": extra}) for extra in req.extras):
            dependency.marker = None
            added.append(dependency)
    return added


def isPipInstallInProgress() -> bool:
    """Whether a non-blocking install is running: never in the double, whose installs end at once."""
    return False


def pip_ensure(
    requirements: str | Requirement | list[str | Requirement],
    constraints: str | Path | None = None,
    skip_packages: list[str] | None = None,
    prompt_install: bool = True,
    prompt_restart: bool = True,
    requester: str | None = None,
    skip_in_testing: bool = True,
    show_progress: bool = True,
) -> list[str] | None:
    """Install the requirements `pip_check` finds missing, after asking (`prompt_install`, through
    slicer.util.confirmOkCancelDisplay; RuntimeError when declined). In testing mode with `skip_in_testing`,
    installs nothing; without slicer.app (PythonSlicer), installs without asking. Returns what
    `pip_install` returns (the skipped requirements when `skip_packages` is given), None when nothing is
    missing. `prompt_restart` has no effect: nothing is installed, so no loaded package changes."""
    missing = [str(req) for req in _to_requirements(requirements) if not pip_check(req)]
    if not missing:
        return None
    if not _isSlicerAppAvailable():
        return pip_install(missing, constraints=constraints, skip_packages=skip_packages)
    if skip_in_testing and slicer.app.testingEnabled():
        logging.info(f"Testing mode is enabled: skipping pip_ensure for [{', '.join(missing)}]")
        return None
    if prompt_install and not _confirmInstall(missing, requester):
        raise RuntimeError("User declined package installation")
    return pip_install(missing, constraints=constraints, skip_packages=skip_packages, blocking=True,
                       show_progress=show_progress, requester=requester)


def _confirmInstall(missing: list[str], requester: str | None) -> bool:
    """Slicer's OK/Cancel question: how many packages, the list as details, the requester in the title."""
    title = (_("{requester} - Install Python Packages").format(requester=requester) if requester
             else _("Install Python Packages"))
    if len(missing) == 1:
        message = _("1 Python package needs to be installed.\n\n"
                    "This will modify Slicer's Python environment. Continue?")
    else:
        message = _("{count} Python packages need to be installed.\n\n"
                    "This will modify Slicer's Python environment. Continue?").format(count=len(missing))
    details = "\n".join(f"- {req}" for req in missing)
    return slicer.util.confirmOkCancelDisplay(message, title, detailedText=details)


def _isSlicerAppAvailable() -> bool:
    """Whether this runs inside the application (slicer.app set) rather than in PythonSlicer."""
    try:
        from slicer import app
    except ImportError:
        return False
    return app is not None


def pip_install(
    requirements: str | list[str],
    constraints: str | Path | None = None,
    no_deps_requirements: str | list[str] | None = None,
    skip_packages: list[str] | None = None,
    blocking: bool = True,
    show_progress: bool = True,
    requester: str | None = None,
    logCallback: Callable[[str], None] | None = None,
    completedCallback: Callable[[int], None] | None = None,
) -> list[str] | None:
    """Record what pip would install (see `_installRequests`). With `skip_packages` (blocking only, not with
    `no_deps_requirements`: ValueError), requirements named there are left out and returned, and those
    already met or excluded by their marker are not installed; otherwise returns None. In the application
    outside testing mode, a non-blocking call reports success to `completedCallback`; pip's output, and so
    `logCallback`, never comes. `constraints`, `show_progress` and `requester` change nothing recorded."""
    if skip_packages is not None:
        if no_deps_requirements is not None:
            raise ValueError("skip_packages and no_deps_requirements are mutually exclusive: "
                             "skip_packages installs each package with --no-deps itself.")
        if not blocking:
            raise ValueError("skip_packages requires blocking=True: the dependency walk cannot run in the background.")
        wanted, skipped = _walkSkipping(_pipArguments(requirements, "pip_install"), skip_packages)
        if wanted:
            _installRequests.append(wanted)
        return skipped
    noDeps = _pipArguments(no_deps_requirements, "pip_install") if no_deps_requirements is not None else []
    _installRequests.append(noDeps + _pipArguments(requirements, "pip_install"))
    # In PythonSlicer and in testing mode Slicer installs in the simple blocking way, without callbacks
    if not blocking and completedCallback and _isSlicerAppAvailable() and not slicer.app.testingEnabled():
        completedCallback(0)
    return None


def _pipArguments(requirements: str | list[str], function: str) -> list[str]:
    """Requirements as pip arguments: a string split as a shell would, a list as it is."""
    if isinstance(requirements, str):
        return shlex.split(requirements)
    if isinstance(requirements, list):
        return list(requirements)
    raise ValueError(f"{function} requirement input must be string or list")


def _walkSkipping(requirements: list[str], skipPackages: list[str]) -> tuple[list[str], list[str]]:
    """(to install, skipped) for a skip_packages install. Names compare canonically ("Simple_ITK" is
    "simple-itk"); a name comes once. Slicer then walks each installed package's dependencies the same
    way; nothing is installed here, so there are none to walk."""
    skip = {canonicalize_name(name) for name in skipPackages}
    seen: set[str] = set()
    wanted, skipped = [], []
    for text in requirements:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            logging.warning("Could not parse requirement: %s", text)
            continue
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        if name in skip:
            skipped.append(str(req))
        elif (req.marker is None or req.marker.evaluate()) and not pip_check(req):
            extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
            wanted.append(f"{req.name}{extras}{req.specifier}")
    return wanted, skipped


def pip_uninstall(
    requirements: str | list[str],
    blocking: bool = True,
    logCallback: Callable[[str], None] | None = None,
    completedCallback: Callable[[int], None] | None = None,
) -> None:
    """Record what pip would uninstall (see `_uninstallRequests`); a non-blocking call in the application
    reports success to `completedCallback`."""
    _uninstallRequests.append(_pipArguments(requirements, "pip_uninstall"))
    if not blocking and completedCallback and _isSlicerAppAvailable():
        completedCallback(0)
