"""Every benchmark that prints gates exits 1 when one is missed and 0 when all are met.

Each script's ``main`` runs with its measurements replaced by figures on either side of
its gates (the measurements themselves take minutes to hours), so what is judged is the
judging: the same ``main``, the same printed lines.
"""

import json
import sys

import pytest
from benchmark_scripts import load_benchmark


@pytest.fixture
def bench(request):
    """``benchmarks/<name>.py`` as a module (the test's ``name`` parameter)."""
    module = load_benchmark(request.param, register=True)
    yield module
    sys.modules.pop(request.param, None)


def _measured(ratio_low, ratio_high, pedestal):
    return {"n": 1, "occupancy_max": 0.1, "occupancy_mean": 0.1, "noise_ratio_min": ratio_low,
            "noise_ratio_max": ratio_high, "pedestal_median_err_max": pedestal,
            "pedestal_p95_err_max": pedestal, "mad_ratio_max": 1.0}


@pytest.mark.parametrize("bench", ["background_accuracy"], indirect=True)
@pytest.mark.parametrize("figures, code", [((0.97, 1.04, 0.08), 0), ((0.97, 1.06, 0.08), 1),
                                           ((0.94, 1.0, 0.08), 1), ((1.0, 1.0, 0.12), 1)])
def test_background_accuracy_exits_on_its_tolerance(bench, monkeypatch, capsys, figures, code):
    import ccdnb.simulation

    monkeypatch.setattr(ccdnb.simulation, "simulate_image", lambda *args, **kwargs: None)
    monkeypatch.setattr(bench, "measure", lambda images: _measured(*figures))
    assert bench.main(["--n", "1"]) == code
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"all within tolerance: {'yes' if code == 0 else 'no'}"


@pytest.mark.parametrize("bench", ["calibration_accuracy"], indirect=True)
@pytest.mark.parametrize("missed", [None, "skipper", "truth clusters", "classical clusters",
                                    "peak"])
def test_calibration_accuracy_exits_on_any_of_its_four_gates(bench, monkeypatch, missed):
    def fe55(n):
        return {"truth clusters": {"gain_met": missed != "truth clusters"},
                "classical clusters": {"gain_met": missed != "classical clusters"},
                "peak": {"met": missed != "peak"}}

    monkeypatch.setattr(bench, "skipper_gate", lambda n: {"met": missed != "skipper"})
    monkeypatch.setattr(bench, "fe55_gate", fe55)
    assert bench.main(["--skipper", "0", "--fe55", "0"]) == (0 if missed is None else 1)


@pytest.mark.parametrize("bench", ["heldout_evaluation"], indirect=True)
@pytest.mark.parametrize("statuses, code", [(["PASS", "n/a"], 0), (["PASS", "MISS"], 1)])
def test_heldout_evaluation_exits_on_a_missed_gate(bench, monkeypatch, capsys, tmp_path,
                                                   statuses, code):
    import ccdnb.runtime

    class Engine:
        runtime = "onnx"

    gates = [{"gate": f"gate {k}", "value": 0.5, "target": ">= 0.5", "n": 1, "status": status,
              "note": ""} for k, status in enumerate(statuses)]
    monkeypatch.setattr(ccdnb.runtime, "load_predictor",
                        lambda *args, **options: (Engine(), {"architecture": "small",
                                                             "parameters": 1}))
    monkeypatch.setattr(bench, "make_set", lambda spec, quick: None)
    monkeypatch.setattr(bench, "evaluate_set",
                        lambda *args: {"gates": gates, "seconds": {}})
    monkeypatch.setattr(bench, "summary_table", lambda results: "")
    out = tmp_path / "figures.json"
    assert bench.main(["--sets", "thesis", "--json", str(out)]) == code
    assert f"all gates met: {'yes' if code == 0 else 'no'}" in capsys.readouterr().out
    assert json.loads(out.read_text())["all_gates_met"] is (code == 0)  # written either way


@pytest.mark.parametrize("bench", ["training_throughput"], indirect=True)
@pytest.mark.parametrize("seconds, code", [(1200.0, 0), (1400.0, 1), (None, 1)])
def test_training_throughput_exits_on_the_estimate_ratio(bench, monkeypatch, capsys, tmp_path,
                                                         seconds, code):
    estimate = {"profile": "quick", "architecture": "small", "image_size": 256, "epochs": 10,
                "batch_size": 8, "steps_per_epoch": 50, "images_per_epoch": 400,
                "n_validation": 40, "train_images_per_s": 4.0, "infer_s_per_tile": 0.1,
                "max_minutes": None, "train_s": 960.0, "validation_s": 40.0,
                "estimate_s": 1000.0}
    monkeypatch.setattr(bench, "profile_estimate", lambda *args, **kwargs: estimate)
    manifest = tmp_path / "manifest.json"
    timings = {} if seconds is None else {"04_train": seconds}
    manifest.write_text(json.dumps({"timings": {"seconds": timings}}))
    assert bench.main(["--estimate", "quick", "--manifest", str(manifest)]) == code
    assert "gate: 1.3" in capsys.readouterr().out or seconds is None
    assert bench.main(["--estimate", "quick"]) == 0  # no measured time: nothing to judge


@pytest.mark.parametrize("bench", ["predict_speed"], indirect=True)
@pytest.mark.parametrize("ours, cosmics, gflops, code", [(1.0, 3.0, 60.0, 0), (2.0, 3.0, 60.0, 1),
                                                          (1.0, 3.0, 40.0, 1)])
def test_predict_speed_exits_on_its_printed_gates(bench, monkeypatch, capsys, tmp_path, ours,
                                                  cosmics, gflops, code):
    """Whole process at most half of astroscrappy's, 50 % of the FP32 roofline."""
    def run_process(command):
        seconds = cosmics if command[1] == "-c" else ours
        return seconds, 100.0, "", seconds  # wall s, peak MiB, stderr (, CPU s)

    monkeypatch.setattr(bench, "run_process", run_process)
    monkeypatch.setattr(bench, "median_time", lambda call, runs: 1.0)
    monkeypatch.setattr(bench, "fp32_peak_gflops", lambda: (100.0, "numpy"))
    # FLOP per pixel such that the in-process second reaches ``gflops`` on 32 x 32
    monkeypatch.setattr(bench, "flops_per_pixel", lambda path: gflops * 1e9 / 32 ** 2)
    assert bench.main(["--runs", "1", "--shape", "32", "32", "--skip-memory",
                       "--work-dir", str(tmp_path)]) == code
    captured = capsys.readouterr()
    assert "(gate: whole process <= 0.5)" in captured.out and "(gate: >= 50 %)" in captured.out
    assert ("gates missed" in captured.err) is (code == 1)
