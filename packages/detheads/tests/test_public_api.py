"""Every public name is importable and documented."""

import importlib

import pytest

MODULE = "detheads"


def _public_names() -> list[str]:
    module = importlib.import_module(MODULE)
    return list(module.__all__)


def test_module_has_docstring_and_version() -> None:
    module = importlib.import_module(MODULE)
    assert module.__doc__ and module.__doc__.strip()
    assert isinstance(module.__version__, str)


def test_all_names_exist_and_are_unique() -> None:
    module = importlib.import_module(MODULE)
    names = _public_names()
    assert len(names) == len(set(names)), "duplicate entries in __all__"
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f"__all__ names not defined: {missing}"


@pytest.mark.parametrize("name", _public_names() or ["__version__"])
def test_public_name_has_docstring(name: str) -> None:
    module = importlib.import_module(MODULE)
    obj = getattr(module, name)
    if name == "__version__" or not callable(obj):
        return
    doc = getattr(obj, "__doc__", None)
    assert doc and doc.strip(), f"{MODULE}.{name} has no docstring"


def test_numpy_is_a_runtime_dependency_so_torch_imports_cleanly() -> None:
    """torch warns "Failed to initialize NumPy" at import without numpy (issue 13).

    detheads never calls numpy, but an environment with only detheads and its dependencies
    must not print torch's warning, so numpy is a runtime dependency, and the first forward
    pass in a fresh interpreter (warnings as errors) stays silent.
    """
    import subprocess
    import sys
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    assert any(d.replace(" ", "").startswith("numpy") for d in deps), deps
    code = (
        "import torch, detheads; "
        "detheads.ResNet18Backbone()(torch.zeros(1, 3, 32, 32)); "
        "detheads.box_iou(torch.zeros(1, 4), torch.zeros(1, 4))"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "NumPy" not in done.stderr, done.stderr[-500:]
