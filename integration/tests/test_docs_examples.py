"""Every ```python block in docs/ and the READMEs runs as it is (issue 13).

Signature listings and sketches with placeholders are fenced as ``text``; what is fenced as
``python`` must run. Each block runs in a fresh interpreter (one torch thread) from a scratch
folder next to a link to the shared data, so ``../shared/data/...`` resolves as it does from a
checkout; blocks that need the shared data skip when it is absent.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = (ROOT / ".." / "shared").resolve()
DOCS = [
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "packages").glob("*/README.md")),
    ROOT / "README.md",
    ROOT / "integration" / "README.md",
]
BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _blocks() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        if not path.is_file():
            continue
        text = path.read_text()
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{path.relative_to(ROOT)}:{line}", match.group(1)))
    return found


BLOCKS = _blocks()


def test_docs_have_python_examples() -> None:
    assert len(BLOCKS) >= 10, [name for name, _ in BLOCKS]


@pytest.mark.parametrize(("name", "code"), BLOCKS, ids=[name for name, _ in BLOCKS])
def test_python_block_runs(name: str, code: str, tmp_path: Path) -> None:
    compile(code, name, "exec")  # a syntax error names the block without running anything
    if "../shared/data" in code and not (SHARED / "data").is_dir():
        pytest.skip(f"{name} needs the shared data ({SHARED / 'data'} not found)")
    work = tmp_path / "work"
    work.mkdir()
    if SHARED.is_dir():
        (tmp_path / "shared").symlink_to(SHARED)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    prelude = "import torch; torch.set_num_threads(1)\n" if "torch" in code else ""
    done = subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stderr[-2000:]}"
