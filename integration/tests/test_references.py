"""Citations in trackkit: authors and year, never the project's internal paper numbers."""

import pathlib
import re

import trackkit

_ROOT = pathlib.Path(__file__).resolve().parents[2]
_INTERNAL = re.compile(r"\b[Pp]apers?[ -]0{2}\d\b")


def _files() -> list[pathlib.Path]:
    here = pathlib.Path(__file__).resolve()
    src = sorted((_ROOT / "integration" / "src").rglob("*.py"))
    tests = [p for p in sorted((_ROOT / "integration" / "tests").rglob("*.py")) if p != here]
    docs = [
        *sorted((_ROOT / "docs").glob("*.md")),
        *sorted((_ROOT / "docs" / "history").glob("*.md")),
    ]
    extra = [_ROOT / "README.md", _ROOT / "integration" / "README.md"]
    scripts = sorted((_ROOT / "benchmarks").glob("*.py")) + sorted(
        (_ROOT / "examples").glob("*.py")
    )
    return [p for p in [*src, *tests, *docs, *extra, *scripts] if p.is_file()]


def test_top_level_docstring_has_references() -> None:
    doc = trackkit.__doc__ or ""
    assert "\nReferences:\n" in doc
    for paper in ("arXiv:2004.00830", "arXiv:2405.07272", "arXiv:2112.02838", "arXiv:2007.04108",
                  "arXiv:2003.13870"):  # fmt: skip
        assert paper in doc


def test_no_internal_paper_numbers() -> None:
    hits = [
        f"{path.relative_to(_ROOT)}:{i}"
        for path in _files()
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _INTERNAL.search(line)
    ]
    assert not hits, f"cite authors and year instead of internal paper numbers: {hits[:10]}"


def test_pattern_catches_internal_numbers() -> None:
    assert _INTERNAL.search("as in paper 000")
    assert _INTERNAL.search("Paper 004's head")
    assert not _INTERNAL.search("Wang et al. 2020, eq. 5")
