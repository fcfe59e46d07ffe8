"""benchmarks/frame_seed_spread.py: per-frame differences of a candidate from a reference."""

import sys

import pytest
from benchmark_scripts import load_benchmark


@pytest.fixture
def bench():
    module = load_benchmark("frame_seed_spread", register=True)
    yield module
    sys.modules.pop("frame_seed_spread", None)
    sys.modules.pop("heldout_evaluation", None)


def test_prints_each_frame_and_the_mean_and_spread_of_the_differences(bench, monkeypatch,
                                                                       capsys):
    # the reference reads 0.90 glow on every frame; the candidate 0.88, 0.91, 0.90
    glow = {("default", 1): 0.90, ("default", 2): 0.90, ("default", 3): 0.90,
            ("cand.keras", 1): 0.88, ("cand.keras", 2): 0.91, ("cand.keras", 3): 0.90}

    def fake_f1(spec, model, args):
        assert spec.frame and spec.preset == "damic" and spec.n == 4
        return {"background": 0.99, "glowing": glow[(model, spec.seed)], "hot pixel": 0.9,
                "cluster": 0.8 + (0.01 if model == "cand.keras" else 0.0)}

    monkeypatch.setattr(bench, "frame_f1", fake_f1)
    assert bench.main(["--model", "cand.keras", "--seeds", "1", "2", "3"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[1].split("|")[3].split() == ["+0.000", "/", "-0.020", "/", "+0.000", "/",
                                             "+0.010"]
    assert out[-2] == "mean difference  +0.000 / -0.003 / +0.000 / +0.010"
    # sample standard deviation of (-0.02, +0.01, 0.0): 0.0153
    assert out[-1] == "std over frames  0.000 / 0.015 / 0.000 / 0.000"
