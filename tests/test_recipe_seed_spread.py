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


def test_each_seed_is_scored_as_its_model_scores_and_the_spread_spans_them(tmp_path, capsys):
    import numpy as np
    from sklearn.metrics import f1_score

    from ccdnb.classes import CLASS_NAMES
    from ccdnb.model import load_model
    from ccdnb.predict import predict_image
    from ccdnb.reproduce.profiles import notebook_parameters

    data = tmp_path / "run" / "data"
    save_dataset(data / "train.npz", simulate_dataset("thesis-balanced", 6, (64, 64), seed=3))
    test = simulate_dataset("thesis", 2, (64, 64), seed=4)
    save_dataset(data / "test.npz", test)
    out = tmp_path / "models"
    assert _module().main(["--profile", "smoke", "--seeds", "6", "7", "--run-dir",
                           str(tmp_path / "run"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    rows = [line for line in text.splitlines() if line.startswith("seed")]
    assert [row.split(":")[0] for row in rows] == ["seed   6", "seed   7"]
    scores = [dict(re.findall(r"(background|glowing|hot pixel|cluster) ([0-9.]+)", row))
              for row in rows]
    # every printed F1 is that of the seed's saved model on the test set, as notebook 05
    # predicts it (tile and margin of the profile)
    evaluate = notebook_parameters("smoke", "05_evaluate")
    for seed, printed in zip((6, 7), scores):
        model, _ = load_model(out / "smoke" / f"seed{seed}" / "model.keras")
        masks = np.stack([predict_image(model, image, tile=evaluate["tile_size"],
                                        margin=evaluate["margin"]) for image in test.images])
        f1 = f1_score(test.labels.ravel(), masks.ravel(), labels=[0, 1, 2, 3], average=None,
                      zero_division=0)
        assert list(printed) == list(CLASS_NAMES)
        np.testing.assert_allclose([float(printed[name]) for name in CLASS_NAMES], f1,
                                   atol=5e-4)
    # the spread spans the seeds' scores, class by class
    spread = text.splitlines()[-1]
    assert spread.startswith("spread (min - max F1): ")
    for name in CLASS_NAMES:
        values = sorted(float(score[name]) for score in scores)
        assert f"{name} {values[0]:.3f}-{values[-1]:.3f}" in spread
    assert any(scores[0][name] != scores[1][name] for name in CLASS_NAMES)  # two draws
