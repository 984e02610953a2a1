"""Citations: a References block in the package docstring and README, no internal paper numbers.

A user who installed only ``distill`` has no access to the project's internal paper numbering, so
every citation must name authors and year, and every one cited must resolve in the References.
"""

import pathlib
import re

import distill

_SRC = pathlib.Path(distill.__file__).resolve().parent
_TESTS = pathlib.Path(__file__).resolve().parent
_README = _TESTS.parent / "README.md"
# the project's internal numbering of its five papers (the seeds' file prefixes)
_INTERNAL = re.compile(r"\b[Pp]apers?[ -]0{2}\d\b|\b[Pp]apers 0{2}\d and 0{2}\d\b")
# "Wang et al. 2020", "Chen and Deng 2024", "Kingma & Ba 2015"
_CITATION = re.compile(
    r"\b([A-Z][A-Za-z'-]+)(?: et al\.,?| and [A-Z][A-Za-z'-]+| & [A-Z][A-Za-z'-]+) \(?(\d{4})\b"
)


def _files() -> list[pathlib.Path]:
    """Every source and test file and the README (not this file: its examples are the patterns)."""
    tests = [p for p in sorted(_TESTS.rglob("*.py")) if p != pathlib.Path(__file__).resolve()]
    return [*sorted(_SRC.rglob("*.py")), *tests, _README]


def _references(text: str) -> list[str]:
    """Entries of the indented ``References:`` block of a docstring, one string each."""
    block = text.split("\nReferences:\n", 1)[1]
    entries: list[str] = []
    for line in block.splitlines():
        if line.startswith("        "):
            entries[-1] += " " + line.strip()
        elif line.startswith("    "):
            entries.append(line.strip())
        else:
            break
    return entries


def test_package_docstring_has_references() -> None:
    doc = distill.__doc__ or ""
    assert "\nReferences:\n" in doc
    entries = _references(doc)
    assert entries
    for entry in entries:
        assert re.search(r"\b(19|20)\d\d\. ", entry), entry  # year
        assert re.search(r"arXiv:\d{4}\.\d{4,5}\.$|no arXiv\.$", entry), entry


def test_readme_lists_the_same_references() -> None:
    readme = _README.read_text(encoding="utf-8")
    assert "\n## References\n" in readme
    listed = [
        line[2:]
        for line in readme.split("\n## References\n", 1)[1].splitlines()
        if line.startswith("- ")
    ]
    assert listed == _references(distill.__doc__ or "")


def test_no_internal_paper_numbers() -> None:
    offenders = [
        f"{path.name}:{i}"
        for path in _files()
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _INTERNAL.search(line)
    ]
    assert not offenders, offenders


def test_every_citation_resolves_in_references() -> None:
    entries = _references(distill.__doc__ or "")
    missing = set()
    for path in _files():
        for surname, year in _CITATION.findall(path.read_text(encoding="utf-8")):
            if not any(surname in e and f" {year}." in e for e in entries):
                missing.add(f"{surname} {year} ({path.name})")
    assert not missing, sorted(missing)


def test_patterns_catch_what_they_guard() -> None:
    assert _INTERNAL.search("see paper " + "003, eq. 2")
    assert _INTERNAL.search("papers " + "000 and 004")
    assert _INTERNAL.search("paper-" + "001 tasks")
    assert not _INTERNAL.search("Wang et al. 2020, eq. 5 (1000 px)")
    assert _CITATION.findall("(Wang et al. 2020, eq. 5; Kingma & Ba 2015)") == [
        ("Wang", "2020"),
        ("Kingma", "2015"),
    ]
