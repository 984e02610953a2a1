"""Every public name is importable and documented."""

import importlib

import pytest

MODULE = "trackkit"


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
