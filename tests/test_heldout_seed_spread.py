"""benchmarks/heldout_seed_spread.py: per-draw differences of a candidate from a reference."""

import sys

import pytest
from benchmark_scripts import load_benchmark


@pytest.fixture
def bench():
    module = load_benchmark("heldout_seed_spread", register=True)
    yield module
    sys.modules.pop("heldout_seed_spread", None)
    sys.modules.pop("heldout_evaluation", None)


def test_prints_each_draw_and_the_mean_and_spread_of_the_differences(bench, monkeypatch,
                                                                      capsys):
    # the reference reads 0.90 glow on every draw; the candidate 0.88, 0.91, 0.90
    glow = {("ref", 1): 0.90, ("ref", 2): 0.90, ("ref", 3): 0.90,
            ("cand", 1): 0.88, ("cand", 2): 0.91, ("cand", 3): 0.90}

    def fake_figures(spec, data, model, args):
        assert spec.name == "isolated-hits" and spec.preset == "isolated-hits"
        assert data == ("drawn", spec.seed)
        return {"background": 0.99, "glowing": glow[(model, spec.seed)], "hot pixel": 0.9,
                "cluster": 0.8 + (0.01 if model == "cand" else 0.0),
                "found": 0.9 + (0.02 if model == "cand" else 0.0),
                "false": 80.0 + (5.0 if model == "cand" else 0.0)}

    monkeypatch.setattr(bench.heldout, "make_set", lambda spec, quick: ("drawn", spec.seed))
    monkeypatch.setattr(bench, "set_figures", fake_figures)
    monkeypatch.setattr(bench, "_load", lambda model, runtime: "cand" if model == "c.keras"
                        else "ref")
    assert bench.main(["--model", "c.keras", "--set", "isolated-hits",
                       "--seeds", "1", "2", "3"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[1].split("difference")[1].split() == [
        "+0.000", "/", "-0.020", "/", "+0.000", "/", "+0.010", "|", "+0.020", "|", "+5.0"]
    assert out[-2] == "mean difference  +0.000 / -0.003 / +0.000 / +0.010 | +0.020 | +5.0"
    # sample standard deviation of (-0.02, +0.01, 0.0): 0.0153
    assert out[-1] == "std over draws   +0.000 / +0.015 / +0.000 / +0.000 | +0.000 | +0.0"


def test_draws_the_set_with_its_own_seed_and_three_more_by_default(bench, monkeypatch, capsys):
    seen, drawn = [], []
    monkeypatch.setattr(bench.heldout, "make_set",
                        lambda spec, quick: drawn.append(spec.seed) or spec.seed)
    monkeypatch.setattr(bench, "set_figures", lambda spec, data, model, args:
                        seen.append(data) or dict.fromkeys(bench.FIGURES, 0.5))
    monkeypatch.setattr(bench, "_load", lambda model, runtime: model)
    assert bench.main(["--model", "c.keras"]) == 0
    assert seen == [90003, 90003, 91003, 91003, 92003, 92003, 93003, 93003]
    assert drawn == [90003, 91003, 92003, 93003]  # each draw simulated once, for both models
