"""Test configuration: hypothesis runs without deadlines (timings here are noisy), and a
``one_thread`` fixture for the model tests, a tiny instance detector, a tiny RetinaTrack
network configuration, a recorder of TRASTracker options, a loader of the scripts in
``benchmarks/`` and a faked run of the TRASFUST round scripts."""

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import pytest
import torch
from hypothesis import settings

settings.register_profile("trackkit", deadline=None, max_examples=100)
settings.load_profile("trackkit")


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch thread: on a shared 2-core machine OpenMP spinning makes 2 threads far slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def device() -> torch.device:
    """The device the tensor tests run on: CUDA when available, else CPU (nothing skips on CPU).

    On CUDA, TF32 convolutions and matmuls are switched off for the session, so the tests'
    tolerances (set against float32 references) mean on a GPU what they mean on a CPU.
    """
    if not torch.cuda.is_available():
        return torch.device("cpu")
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    return torch.device("cuda")


class _TinyTrunk(torch.nn.Module):
    """Three stride-2 convolutions: a stride-8 trunk that runs in microseconds."""

    out_channels = 8

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, 2, 1), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, 2, 1),
            torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, 2, 1),
        )  # fmt: skip
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@pytest.fixture
def tiny_instance_detector() -> Callable[..., Any]:
    """``make(head="fcos", seed=0)``: an instance detector with a tiny random trunk and a head
    with large random weights (so that its scores respond and adaptation matters)."""
    from trackkit.sot import DetectorConfig, InstanceDetector

    def make(head: Literal["fcos", "retina"] = "fcos", seed: int = 0) -> Any:
        torch.manual_seed(seed)
        det = InstanceDetector(DetectorConfig(head=head, head_channels=8), trunk=_TinyTrunk())
        with torch.no_grad():
            for p in det.head.parameters():
                if p.dim() > 1:
                    p.normal_(0, 0.3)
        return det

    return make


@pytest.fixture(scope="session")
def tiny_rt_config() -> Any:
    """A tiny ``RetinaTrackNetConfig`` for the RetinaTrack tests (192 px input, 16 FPN channels,
    one anchor a location, 8-d embeddings) whose network trains and runs in seconds."""
    from trackkit.mot.retinatrack import RetinaTrackNetConfig

    return RetinaTrackNetConfig(
        backbone_stages=(3, 6, 13),
        fpn_channels=16,
        anchor_sizes=((28.0,), (56.0,), (112.0,)),
        anchor_ratios=(2.0,),
        m1=1,
        m2=1,
        m3=1,
        embedding_dim=8,
        frozen_stages=14,
        input_width=192,
        score_threshold=0.3,
    )


@pytest.fixture
def tras_options_seen(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[tuple[Any, ...]]]:
    """``seen = tras_options_seen("average_iou", "average_temperature")`` replaces
    ``trackkit.sot.tras.TRASTracker`` (for this test) by a subclass that appends those
    attributes of every tracker built to ``seen``: what the command line passed on."""
    import trackkit.sot.tras as tras

    def record(*names: str) -> list[tuple[Any, ...]]:
        seen: list[tuple[Any, ...]] = []

        class Recording(tras.TRASTracker):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                seen.append(tuple(getattr(self, n) for n in names))

        monkeypatch.setattr(tras, "TRASTracker", Recording)
        return seen

    return record


@pytest.fixture(scope="session")
def bench_script() -> Callable[[str], ModuleType]:
    """``bench_script("tras_value_ema")`` imports ``benchmarks/tras_value_ema.py`` as a module
    (the benchmarks are scripts, not a package), once per session."""
    root = Path(__file__).resolve().parents[2] / "benchmarks"

    def load(name: str) -> ModuleType:
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, root / f"{name}.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod

    return load


@pytest.fixture(scope="session")
def write_mot_folder() -> Callable[..., Any]:
    """``write_mot_folder(root, length=, num_objects=, seed=, keep_det=None)`` writes a synthetic
    MOTChallenge sequence ``root/SYN-01`` (seqinfo.ini, gt/gt.txt, det/det.txt; no images) and
    returns ``(folder, sequence)``; ``keep_det`` (a boolean mask over the detections) drops some
    detections, e.g. to give the trackers gaps."""
    from trackkit.data import synthetic_mot_sequence, write_mot_rows

    def write(
        root: Path, *, length: int, num_objects: int, seed: int, keep_det: Any = None
    ) -> tuple[Path, Any]:
        seq = synthetic_mot_sequence(
            length=length, num_objects=num_objects, seed=seed, render=False
        )
        assert seq.gt is not None and seq.det is not None
        folder = root / "SYN-01"
        (folder / "gt").mkdir(parents=True)
        (folder / "det").mkdir()
        (folder / "seqinfo.ini").write_text(
            f"[Sequence]\nname=SYN-01\nimDir=img1\nframeRate=25\nseqLength={length}\n"
            "imWidth=320\nimHeight=240\nimExt=.jpg\n"
        )
        write_mot_rows(folder / "gt" / "gt.txt", seq.gt)
        det = seq.det if keep_det is None else seq.det.select(keep_det(len(seq.det)))
        write_mot_rows(folder / "det" / "det.txt", det)
        return folder, seq

    return write


@pytest.fixture
def fake_tras_round(
    bench_script: Callable[[str], ModuleType], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., tuple[dict[str, Any], str]]:
    """``run(script, *argv)`` runs the ``main`` of a TRASFUST round script of ``benchmarks/``
    (``tras_value_ema``, ``tras_average``: ``tras_value_ema.run_round``) with ``argv`` and a
    faked student, data and replay (pool csrt + kcf, margin 0.05; 10 training sequences, 9
    held out; 3 evaluation sequences; a replayed AUC of ``0.6 + 0.05 value_ema + 0.02
    average_iou`` less 0.01 for softmax weights, plus 0.001 per sequence index); returns the
    record (``--json``) and the report (``--out``) it wrote, both under ``tmp_path``."""
    import json
    import math
    import types

    rounds = bench_script("tras_value_ema")
    held = [f"train-{i}" for i in range(1, 10)]
    student = types.SimpleNamespace(
        meta={
            "fusion_pool": ["csrt", "kcf"],
            "fusion_margin": 0.05,
            "value_fit": {"holdout_sequences": held},
        }
    )

    def replay(student: Any, seqs: list[Any], runs: Any, pool: Any, **kw: float) -> list[float]:
        assert kw["margin"] == 0.05 and tuple(pool) == ("csrt", "kcf")
        base = 0.6 + 0.05 * kw.get("value_ema", 0.0) + 0.02 * kw.get("average_iou", 0.0)
        base -= 0.01 * math.isfinite(kw.get("average_temperature", math.inf))
        return [base + 0.001 * i for i in range(len(seqs))]

    def oracles(seqs: list[Any], runs: Any, pool: Any) -> dict[str, Any]:
        per = {s.name: 0.5 + 0.01 * i for i, s in enumerate(seqs)}
        return {"teachers": {t: per for t in pool}, "sequence": per, "frame": per}

    def seqs(names: list[str]) -> list[Any]:
        return [types.SimpleNamespace(name=n) for n in names]

    monkeypatch.setattr(rounds, "load_student", lambda path: student)
    monkeypatch.setattr(rounds, "tras_training_sequences", lambda *a, **k: seqs(["t0", *held]))
    monkeypatch.setattr(rounds, "DEFAULT_HOLDOUT", ("e1", "e2", "e3"))
    monkeypatch.setattr(rounds, "read_simple_sot", lambda data, names: seqs(names))
    monkeypatch.setattr(rounds, "run_teachers", lambda s, **kw: {})
    monkeypatch.setattr(rounds, "tras_replay_auc", replay)
    monkeypatch.setattr(rounds, "oracles", oracles)

    def run(script: str, *argv: str) -> tuple[dict[str, Any], str]:
        record, report = tmp_path / f"{script}.json", tmp_path / f"{script}.md"
        files = ["--json", str(record), "--out", str(report)]
        monkeypatch.setattr(sys, "argv", [f"{script}.py", *argv, *files])
        assert bench_script(script).main() == 0
        return json.loads(record.read_text()), report.read_text()

    return run
