"""Every relative Markdown link in docs/**/*.md, README.md and the package READMEs resolves.

A link ``[text](path)`` or ``[text](path#anchor)`` must name an existing file or folder
(relative to the file that holds it); an anchor into a Markdown file must be one of that file's
headings, as GitHub renders them. External links (``http://``, ``https://``, ``mailto:``) are
not checked. Links inside fenced code blocks and inline code are not links.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [
        *(ROOT / "docs").rglob("*.md"),
        ROOT / "README.md",
        ROOT / "integration" / "README.md",
        *(ROOT / "packages").glob("*/README.md"),
    ]
)
FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.DOTALL | re.MULTILINE)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
EXTERNAL = ("http://", "https://", "mailto:")


def _strip_code(text: str) -> str:
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: markup dropped, lower case, punctuation removed, spaces
    to hyphens (``"Round 9: IoU + x"`` -> ``"round-9-iou--x"``)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").replace("*", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, with GitHub's ``-1``, ``-2`` for repeats."""
    seen: dict[str, int] = {}
    out = set()
    for match in HEADING.finditer(_strip_fences(path.read_text(encoding="utf-8"))):
        base = slug(match.group(1))
        n = seen.get(base, 0)
        out.add(base if n == 0 else f"{base}-{n}")
        seen[base] = n + 1
    return out


def _strip_fences(text: str) -> str:
    return FENCE.sub("", text)


def links(path: Path) -> list[tuple[int, str]]:
    """``(line, target)`` of every relative link of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    kept = _strip_code(text)
    found = []
    for match in LINK.finditer(kept):
        target = match.group(1)
        if target.startswith(EXTERNAL):
            continue
        # line numbers of the stripped text drift after a fence; report the text's own line
        line = text.find(match.group(0))
        found.append((text.count("\n", 0, line) + 1 if line >= 0 else 0, target))
    return found


def broken(path: Path, root: Path = ROOT) -> list[str]:
    """One line per relative link of ``path`` that names no file, or no heading of one."""
    out = []
    for line, target in links(path):
        where = f"{path.relative_to(root)}:{line}: {target}"
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            out.append(f"{where} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            out.append(f"{where} (no heading #{anchor} in {dest.relative_to(root)})")
    return out


def test_docs_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in FILES}
    assert {"README.md", "docs/mot.md", "docs/sot.md", "docs/tras.md"} <= names
    assert any(name.startswith("docs/history/") for name in names), sorted(names)


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(ROOT).as_posix() for p in FILES])
def test_relative_links_resolve(path: Path) -> None:
    assert not broken(path), "\n".join(broken(path))


def test_checker_catches_a_broken_link_and_anchor(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        "# Round 9: IoU + x\n\n## Use\n\n## Use\n\n"
        "[ok](b.md) [ok](#round-9-iou--x) [ok](#use-1) [bad](missing.md) [bad](b.md#nope)\n"
        "`[not a link](missing.md)`\n```text\n[not a link](missing2.md)\n```\n"
        "[external](https://example.com/x.md)\n"
    )
    (tmp_path / "b.md").write_text("# B\n")
    assert broken(tmp_path / "a.md", root=tmp_path) == [
        "a.md:7: missing.md (no such file)",
        "a.md:7: b.md#nope (no heading #nope in b.md)",
    ]
