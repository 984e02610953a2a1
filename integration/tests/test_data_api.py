"""Every public name of trackkit.data and trackkit.eval exists, is unique and documented."""

from __future__ import annotations

import importlib

import pytest

MODULES = ("trackkit.data", "trackkit.eval")


@pytest.mark.parametrize("module_name", MODULES)
def test_public_names_documented(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__doc__ and module.__doc__.strip()
    names = list(module.__all__)
    assert len(names) == len(set(names)), "duplicate entries in __all__"
    for name in names:
        obj = getattr(module, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), f"{module_name}.{name} has no docstring"


def test_default_roots_follow_trackkit_data(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from trackkit.data import default_data_root, default_mot_root

    monkeypatch.setenv("TRACKKIT_DATA", "/somewhere")
    assert default_data_root() == Path("/somewhere/sot")
    assert default_mot_root() == Path("/somewhere/mot")
    monkeypatch.delenv("TRACKKIT_DATA")
    assert default_data_root() == Path("../shared/data/sot")
    assert default_mot_root() == Path("../shared/data/mot")
