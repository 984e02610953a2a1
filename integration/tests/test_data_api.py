"""trackkit.data: default data roots (the docstring check of every public name is in
test_layout.py)."""

from __future__ import annotations

import pytest


def test_default_roots_follow_trackkit_data(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from trackkit.data import default_data_root, default_mot_root

    monkeypatch.setenv("TRACKKIT_DATA", "/somewhere")
    assert default_data_root() == Path("/somewhere/sot")
    assert default_mot_root() == Path("/somewhere/mot")
    monkeypatch.delenv("TRACKKIT_DATA")
    assert default_data_root() == Path("../shared/data/sot")
    assert default_mot_root() == Path("../shared/data/mot")
