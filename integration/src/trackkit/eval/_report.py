"""Result tables (markdown) and success / precision plots for several trackers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from trackkit.eval._runner import MOTBenchmarkResult, SOTBenchmarkResult
from trackkit.eval._sot_metrics import OVERLAP_THRESHOLDS, PRECISION_THRESHOLDS

__all__ = ["markdown_table", "mot_results_table", "plot_sot_results", "sot_results_table"]


def markdown_table(
    rows: Sequence[Mapping[str, object]], columns: Sequence[str], *, digits: int = 3
) -> str:
    """A GitHub markdown table; floats get ``digits`` decimals, other values ``str()``."""

    def cell(value: object) -> str:
        if isinstance(value, (float, np.floating)):
            return "nan" if np.isnan(value) else f"{value:.{digits}f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def sot_results_table(results: Sequence[SOTBenchmarkResult], *, digits: int = 3) -> str:
    """One row per tracker: AUC, precision@20px, normalised precision, AO, SR@0.5, FPS."""
    rows = [
        {
            "tracker": r.tracker,
            "AUC": r.mean.auc,
            "Prec@20px": r.mean.precision,
            "NormPrec": r.mean.norm_precision,
            "AO": r.mean.ao,
            "SR@0.5": r.mean.sr50,
            "FPS": float(r.fps),
            "sequences": len(r.runs),
        }
        for r in results
    ]
    cols = ["tracker", "AUC", "Prec@20px", "NormPrec", "AO", "SR@0.5", "FPS", "sequences"]
    return markdown_table(rows, cols, digits=digits)


def mot_results_table(results: Sequence[MOTBenchmarkResult], *, digits: int = 3) -> str:
    """One row per tracker with the combined MOTChallenge numbers and association FPS."""
    rows = []
    for r in results:
        s = r.combined.summary()
        rows.append(
            {
                "tracker": r.tracker,
                **{k: s[k] for k in ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "MOTP")},
                **{k: int(s[k]) for k in ("IDSW", "Frag", "FP", "FN", "MT", "ML")},
                "FPS": float(r.fps),
            }
        )
    cols = [
        "tracker",
        "HOTA",
        "DetA",
        "AssA",
        "MOTA",
        "IDF1",
        "MOTP",
        "IDSW",
        "Frag",
        "FP",
        "FN",
        "MT",
        "ML",
        "FPS",
    ]
    return markdown_table(rows, cols, digits=digits)


def plot_sot_results(
    results: Sequence[SOTBenchmarkResult], path: str | Path, *, title: str = ""
) -> Path:
    """Success (overlap) and precision (centre error) plots of several trackers in one PNG.

    Legends carry the AUC and the precision at 20 px, trackers sorted best first. A ``path``
    without a suffix gets ``.png`` (as matplotlib would, silently); returns the path written.
    An existing folder as ``path`` is a ``ValueError``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("results is empty")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"plot path {path} is a folder; give a file name such as success.png")
    if not path.suffix:
        path = path.with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (ax_s, ax_p) = plt.subplots(1, 2, figsize=(11, 4.5))
    colors = {r.tracker: f"C{k % 10}" for k, r in enumerate(results)}  # same colour both panels
    for r in sorted(results, key=lambda r: -r.mean.auc):
        ax_s.plot(
            OVERLAP_THRESHOLDS,
            r.mean.success,
            lw=2,
            color=colors[r.tracker],
            label=f"{r.tracker} [{r.mean.auc:.3f}]",
        )
    for r in sorted(results, key=lambda r: -r.mean.precision):
        ax_p.plot(
            PRECISION_THRESHOLDS,
            r.mean.precisions,
            lw=2,
            color=colors[r.tracker],
            label=f"{r.tracker} [{r.mean.precision:.3f}]",
        )
    ax_s.set(
        xlabel="overlap threshold",
        ylabel="success rate",
        xlim=(0, 1),
        ylim=(0, 1),
        title="Success plot (AUC)",
    )
    ax_p.set(
        xlabel="location error threshold (px)",
        ylabel="precision",
        xlim=(0, 50),
        ylim=(0, 1),
        title="Precision plot (@20 px)",
    )
    for ax in (ax_s, ax_p):
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left" if ax is ax_s else "lower right", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
