"""benchmarks/heldout_compare.py: held-out figures before and after a change, side by side."""

import json

from benchmark_scripts import load_benchmark


def _module():
    return load_benchmark("heldout_compare")


def _gate(name, value, status):
    return {"gate": name, "value": value, "target": "< 0.001", "status": status}


def test_a_card_and_a_run_compare_and_a_flipped_gate_is_named(tmp_path):
    f1 = {"background": 0.998, "glowing": 0.995, "hot pixel": 0.991, "cluster": 0.879}
    card = {"architecture": "small", "heldout": {"sets": {"frame": {
        "f1": f1, "false_clusters_per_mpix": 18.8,
        "gates": [_gate("signal lost", 0.00075, "PASS"), _gate("F1 cluster", 0.879, "MISS")]}}}}
    after = dict(f1, cluster=0.885)
    run = {"sets": {"frame": {"model": {"f1": after, "false_clusters_per_mpix": 19.6},
                              "gates": [_gate("signal lost", 0.0015, "MISS"),
                                        _gate("F1 cluster", 0.885, "MISS")]}}}
    (tmp_path / "a.card.json").write_text(json.dumps(card))
    (tmp_path / "b.json").write_text(json.dumps(run))
    table = _module().compare([tmp_path / "a.card.json", tmp_path / "b.json"])
    row = next(line for line in table.splitlines() if line.startswith("| frame"))
    assert "0.998/0.995/0.991/0.879 -> 0.998/0.995/0.991/0.885" in row
    assert "18.8 -> 19.6" in row and "| 1 -> 0 |" in row
    assert "signal lost: PASS (0.00075) -> MISS (0.0015)" in row
    assert "F1 cluster" not in row.split("|")[-2]  # a miss both times is no change
    assert "gates passed in all: 1 -> 0; largest F1 change from the first source: 0.0060" in table
