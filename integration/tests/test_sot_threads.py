"""Trackers in several threads may share one detector (``make_tracker(..., detector=D)``)."""

from __future__ import annotations

import threading

import numpy as np
import torch

from trackkit.registry import make_tracker
from trackkit.sot import load_detector, shipped_checkpoint
from trackkit.train import synthetic_training_sequences


def test_threads_sharing_a_detector_track_as_alone_and_leave_it_unchanged() -> None:
    """Each thread's tracker gives the boxes it gives alone, and the shared detector's weights
    stay as loaded (a bare ``torch.func.functional_call`` swaps fast weights into the module:
    concurrent trackers then started from, or kept, another thread's adapted head)."""
    detector = load_detector(shipped_checkpoint("retina-maml"), device="cpu")
    before = {k: v.clone() for k, v in detector.state_dict().items()}
    seqs = synthetic_training_sequences(3, length=8, seed=21)

    def track(i: int, out: dict[int, np.ndarray], barrier: threading.Barrier | None) -> None:
        torch.set_num_threads(1)
        trk = make_tracker("retina-maml", detector=detector)
        seq = seqs[i]
        if barrier is not None:
            barrier.wait()
        trk.init(seq[0], seq.boxes_xywh[0])
        out[i] = np.stack([trk.update(seq[t]) for t in range(1, len(seq))])

    alone: dict[int, np.ndarray] = {}
    for i in range(len(seqs)):  # one at a time, each in a thread of its own
        t = threading.Thread(target=track, args=(i, alone, None))
        t.start()
        t.join()
    together: dict[int, np.ndarray] = {}
    barrier = threading.Barrier(len(seqs))
    threads = [threading.Thread(target=track, args=(i, together, barrier)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(together) == [0, 1, 2]
    for i in range(len(seqs)):
        np.testing.assert_array_equal(together[i], alone[i])
    now = detector.state_dict()
    assert all(torch.equal(now[k], v) for k, v in before.items())
