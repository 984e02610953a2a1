"""benchmarks/slt.py: how the report describes a run."""

from __future__ import annotations


def test_describe_names_base_sft_and_soups(bench_script):
    describe = bench_script("slt")._describe
    assert describe({"slt": None}) == "base (shipped)"
    cfg = {
        "objective": "scst",
        "max_interval": 7,
        "steps": 20,
        "episodes": 8,
        "length": 24,
        "temperature": 0.1,
        "head_lr": 5e-4,
        "bbox_weight": 1.0,
        "seed": 0,
    }
    one = describe({"slt": cfg})
    assert one.startswith("+SS+SO+SA, 20 it x k=8 x T=24") and one.endswith("seed 0")
    soup = describe({"slt": cfg, "soup": {"seeds": [0, 1]}})
    assert soup.endswith("uniform weight average (model soup) of seeds 0, 1")
    # a WiSE-FT average (the base is a member) has no shared SLT record: not "base (shipped)"
    wise = describe(
        {
            "slt": None,
            "soup": {
                "members": ["retina-maml", "/x/runs/retina_lr5/detector.pt"],
                "weights": [0.5, 0.5],
            },
        }
    )
    assert wise == "weight average of retina-maml x 0.5, retina_lr5 x 0.5"
