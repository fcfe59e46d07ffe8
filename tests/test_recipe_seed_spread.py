"""benchmarks/recipe_seed_spread.py: a profile's recipe trained per seed, each model scored."""

import re

from benchmark_scripts import load_benchmark

from ccdnb.simulation import save_dataset, simulate_dataset


def _module():
    return load_benchmark("recipe_seed_spread")


def test_a_run_folder_without_data_is_one_error_line(tmp_path, capsys):
    assert _module().main(["--profile", "smoke", "--seeds", "5", "--run-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "train.npz" in err


def test_a_seed_gives_a_scored_model_and_the_spread_line(tmp_path, capsys):
    data = tmp_path / "run" / "data"
    save_dataset(data / "train.npz", simulate_dataset("thesis-balanced", 6, (64, 64), seed=3))
    save_dataset(data / "test.npz", simulate_dataset("thesis", 2, (64, 64), seed=4))
    out = tmp_path / "models"
    assert _module().main(["--profile", "smoke", "--seeds", "6", "--run-dir",
                           str(tmp_path / "run"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    rows = [line for line in text.splitlines() if line.startswith("seed")]
    assert [row.split(":")[0] for row in rows] == ["seed   6"]
    scores = re.findall(r"(background|glowing|pixel|cluster) ([0-9.]+)", rows[0])
    assert len(scores) == 4 and all(0.0 <= float(v) <= 1.0 for _, v in scores)
    assert (out / "smoke" / "seed6" / "model.keras").exists()
    # one seed: each class's spread is its one score, min and max alike
    spread = text.splitlines()[-1]
    assert spread.startswith("spread (min - max F1): ")
    for name, value in scores:
        assert f"{name} {value}-{value}" in spread
