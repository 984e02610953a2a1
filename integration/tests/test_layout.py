"""Package layout rules: no imports of another subpackage's private modules, light imports,
and a docstring on every public name of every trackkit subpackage."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import trackkit

# The checked sources are the repository's (also where trackkit is installed into site-packages,
# as in CI's nox sessions: there trackkit.__file__ does not lead to benchmarks/).
REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "integration" / "src" / "trackkit"
BENCHMARKS = REPO / "benchmarks"


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    """Every module an ast import statement names (``from a import b`` gives ``a`` and
    ``a.b``, as ``b`` may be a module), with relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".")
                if not is_pkg:
                    pkg = pkg[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            out.append((node.lineno, base))
            out += [(node.lineno, f"{base}.{a.name}") for a in node.names if a.name != "*"]
    return out


def _private_owner(target: str) -> str | None:
    """The package that owns ``target`` if ``target`` is (inside) a private trackkit module:
    the dotted path before its first ``_name`` component; None for public modules."""
    parts = target.split(".")
    if parts[0] != "trackkit":
        return None
    for i, part in enumerate(parts[1:], start=1):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def _violations(path: Path, importer: str | None) -> list[str]:
    bad = []
    for line, target in _imports(path, importer or "benchmark"):
        owner = _private_owner(target)
        if owner is None:
            continue
        inside = importer is not None and (importer == owner or importer.startswith(owner + "."))
        if not inside:
            bad.append(f"{path.relative_to(REPO)}:{line}: imports private {target}")
    return bad


def test_private_module_rule_itself() -> None:
    assert _private_owner("trackkit.data._mot") == "trackkit.data"
    assert _private_owner("trackkit.sot.instance._crop.x") == "trackkit.sot.instance"
    assert _private_owner("trackkit._cli.eval") == "trackkit"
    assert _private_owner("trackkit.eval") is None and _private_owner("numpy._x") is None


def test_no_module_imports_another_subpackages_private_modules(tmp_path: Path) -> None:
    assert (SRC / "__init__.py").is_file() and any(BENCHMARKS.glob("*.py"))
    bad: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        bad += _violations(path, _module_name(path))
    for path in sorted(BENCHMARKS.glob("*.py")):
        bad += _violations(path, None)
    assert not bad, "\n".join(bad)


def test_the_check_catches_private_imports(tmp_path: Path) -> None:
    """A module of trackkit.eval may import its own private modules, not trackkit.data's."""
    code = (
        "from trackkit.data._mot import MOTRows\n"
        "from trackkit.eval import _runner\n"
        "from ._report import x\n"
        "from ..sot.instance._crop import y\n"
        "import trackkit.data\n"
    )
    path = SRC / "eval" / "probe.py"  # only for its name; the text comes from tmp_path
    (tmp_path / "probe.py").write_text(code)
    found = []
    for line, target in _imports(tmp_path / "probe.py", _module_name(path)):
        owner = _private_owner(target)
        if owner is not None and not target.startswith("trackkit.eval."):
            found.append((line, target))
    assert [t for _, t in found] == [
        "trackkit.data._mot",
        "trackkit.data._mot.MOTRows",
        "trackkit.sot.instance._crop",
        "trackkit.sot.instance._crop.y",
    ]


LIGHT = """
import json, sys
{code}
heavy = [m for m in ("torch", "torchvision", "matplotlib") if m in sys.modules]
print(json.dumps(heavy))
"""


@pytest.mark.parametrize(
    "code",
    [
        "import trackkit",
        "import trackkit.data",
        "import trackkit.eval",
        "import trackkit.mot",
        "import trackkit.registry; trackkit.registry.make_tracker('sort')",
        "import trackkit; trackkit.tracker_names",
    ],
)
def test_light_imports(code: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", LIGHT.format(code=code)], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_association_only_cli_does_not_import_torch(tmp_path: Path) -> None:
    pytest.importorskip("assoc")
    from trackkit.data import synthetic_mot_sequence, write_mot_rows

    seq = synthetic_mot_sequence(length=10, num_objects=2, seed=1, render=False)
    assert seq.gt is not None and seq.det is not None
    folder = tmp_path / "data" / "SYN-01"
    (folder / "gt").mkdir(parents=True)
    (folder / "det").mkdir()
    (folder / "seqinfo.ini").write_text(
        "[Sequence]\nname=SYN-01\nimDir=img1\nframeRate=25\nseqLength=10\n"
        "imWidth=320\nimHeight=240\nimExt=.jpg\n"
    )
    write_mot_rows(folder / "gt" / "gt.txt", seq.gt)
    write_mot_rows(folder / "det" / "det.txt", seq.det)
    code = (
        "from trackkit.cli import main\n"
        f"assert main(['mot', '--data', {str(tmp_path / 'data')!r}, '--out', "
        f"{str(tmp_path / 'out')!r}]) == 0"
    )
    out = subprocess.run(
        [sys.executable, "-c", LIGHT.format(code=code)], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    assert (tmp_path / "out" / "sort" / "SYN-01.txt").is_file()


def _public_modules() -> list[str]:
    names = ["trackkit"]
    for info in pkgutil.walk_packages(trackkit.__path__, "trackkit."):
        if any(p.startswith("_") for p in info.name.split(".")[1:]):
            continue
        names.append(info.name)
    return names


def test_every_subpackage_is_covered() -> None:
    mods = set(_public_modules())
    expected = {"trackkit.data", "trackkit.eval", "trackkit.sot", "trackkit.sot.instance"}
    assert expected | {"trackkit.mot", "trackkit.train", "trackkit.registry"} <= mods


@pytest.mark.parametrize("module_name", _public_modules())
def test_public_names_documented(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__doc__ and module.__doc__.strip(), f"{module_name} has no docstring"
    names = list(getattr(module, "__all__", []))
    assert len(names) == len(set(names)), "duplicate entries in __all__"
    missing = []
    for name in names:
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if not (obj.__doc__ or "").strip():
            missing.append(name)
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not (
                    inspect.isfunction(member) or isinstance(member, property)
                ):
                    continue
                if not (member.__doc__ or "").strip():
                    missing.append(f"{name}.{attr}")
    assert not missing, f"{module_name}: no docstring: {', '.join(missing)}"
