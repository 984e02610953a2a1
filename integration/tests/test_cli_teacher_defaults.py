"""The documented default teacher pools of TRAST / TRASFUST are the ones the trackers use."""

from __future__ import annotations

import argparse

import pytest

from trackkit.cli import build_parser
from trackkit.registry import make_tracker

pytest.importorskip("cv2")


def _teachers_help(*path: str) -> str:
    parser: argparse.ArgumentParser = build_parser()
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    action = next(a for a in parser._actions if "--teachers" in a.option_strings)
    return " ".join((action.help or "").split())


@pytest.mark.parametrize("path", [("track",), ("eval", "sot")])
def test_help_names_the_pools_the_trackers_use(path: tuple[str, ...]) -> None:
    text = _teachers_help(*path)
    trasfust = ",".join(make_tracker("trasfust").teacher_specs)
    trast = ",".join(make_tracker("trast").teacher_specs)
    assert f"{trasfust} for the shipped student" in text or f"shipped student: {trasfust}" in text
    assert f"{trast} for trast" in text
