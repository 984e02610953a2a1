"""The ``trackkit`` command line's help: every option of every (sub)command says what it does
and shows its default, and every ``--help`` renders (in-process, no work done)."""

from __future__ import annotations

import argparse
import math
import re
import shlex
from collections.abc import Iterator

import pytest

from trackkit.cli import build_parser, main


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser of the tree, depth first, with the words that reach it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


COMMANDS = [path for path, _ in _commands(build_parser())]


def _flags(action: argparse.Action) -> str:
    return "/".join(action.option_strings) or str(action.dest)


def test_the_tree_is_complete() -> None:
    """The walk reaches every command and recipe (so the checks below cover them)."""
    names = {" ".join(p) for p in COMMANDS}
    for expected in ("track", "demo", "mot", "eval sot", "eval mot", "train maml", "train slt"):
        assert expected in names
    for recipe in ("finalize", "soup", "tras", "tras-value", "retinatrack", "maml-mot"):
        assert f"train {recipe}" in names
    assert len(COMMANDS) >= 16


def test_every_option_and_command_has_a_help_text() -> None:
    """Fails as soon as someone adds an option (or a subcommand) without ``help=``."""
    missing = []
    for path, parser in _commands(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    if not (choice.help or "").strip():
                        missing.append(f"trackkit {' '.join(path)} {choice.dest}")
                continue
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"trackkit {' '.join(path)} {_flags(action)}")
    assert not missing, "options without help: " + ", ".join(missing)


def _numbers(text: str) -> list[float]:
    return [float(t) for t in re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e-?\d+)?", text)]


def _shows(value: object, text: str) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, (int, float)):
        return any(math.isclose(v, float(value), rel_tol=1e-9) for v in _numbers(text))
    if isinstance(value, (list, tuple)):
        return all(_shows(v, text) for v in value)
    return str(value) in text


def test_every_default_is_shown_and_matches_the_code() -> None:
    """An option with a default names it in its help, with the value the parser really uses
    (a help text saying "default 1000" while the code says 1500 fails here)."""
    wrong = []
    for path, parser in _commands(build_parser()):
        formatter = parser._get_formatter()
        for action in parser._actions:
            if isinstance(
                action,
                (
                    argparse._HelpAction,
                    argparse._SubParsersAction,
                    argparse._StoreTrueAction,
                    argparse._StoreFalseAction,
                ),
            ):
                continue
            default = action.default
            if default is None or default == argparse.SUPPRESS or default == []:
                continue
            text = formatter._expand_help(action)
            if "default" not in text.lower() or not _shows(default, text):
                wrong.append(f"trackkit {' '.join(path)} {_flags(action)} ({default!r}): {text}")
    assert not wrong, "defaults not shown:\n" + "\n".join(wrong)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "trackkit")
def test_every_help_renders(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    """``trackkit ... --help`` prints the usage and exits 0; descriptions and epilogs keep to
    100 columns (the option column is argparse's own wrapping)."""
    with pytest.raises(SystemExit) as info:
        main([*path, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(" ".join(("usage: trackkit", *path)))
    assert "%(" not in out  # every %(default)s was expanded
    long = [line for line in out.splitlines() if len(line) > 100 and not line.startswith(" ")]
    assert not long, long


def test_listed_names_match_the_libraries(capsys: pytest.CaptureFixture[str]) -> None:
    """The names spelled out in help texts (building the parser imports no torch) are the ones
    the code accepts: TRAS teachers, shipped detector checkpoints."""
    from trackkit.sot import SHIPPED_MODELS
    from trackkit.sot.tras import TEACHER_NAMES

    def help_of(*argv: str) -> str:
        with pytest.raises(SystemExit):
            main([*argv, "--help"])
        out = re.sub(r"-\n\s+", "-", capsys.readouterr().out)  # argparse breaks at hyphens
        return " ".join(out.split())

    for recipe in ("tras", "tras-value"):
        text = help_of("train", recipe)
        listed = re.search(r"--teachers LIST comma-separated teacher names \(([^;)]*)", text)
        assert listed is not None, text
        assert listed.group(1).split(", ") == list(TEACHER_NAMES)
    for recipe in ("slt", "soup"):
        text = help_of("train", recipe)
        assert all(name in text for name in SHIPPED_MODELS), (recipe, text)


def test_every_command_has_examples() -> None:
    """docs/trackkit.md promises examples in every command's --help (the groups ``eval`` and
    ``train`` list their commands instead)."""
    leaves = 0
    for path, parser in _commands(build_parser()):
        if not path or any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
            continue
        leaves += 1
        assert (parser.epilog or "").startswith("example"), " ".join(path)
    assert leaves >= 13


def test_every_example_in_the_help_parses() -> None:
    """The example commands of the epilogs use options that exist, with valid values (parsed
    only, nothing runs)."""
    examples = []
    for _, parser in _commands(build_parser()):
        text = (parser.epilog or "").replace("\\\n", " ")
        for line in text.splitlines():
            command = line.split("#")[0].strip()
            if command.startswith("trackkit "):
                examples.append(command)
    assert len(examples) >= 20
    for command in set(examples):
        args = build_parser().parse_args(shlex.split(command)[1:])
        assert callable(args.func), command
