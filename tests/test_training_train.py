"""Training, its command and its learning curves."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ccdnb.cli import main
from ccdnb.simulation import save_dataset, simulate_dataset
from ccdnb.training.train import read_history, split_validation, train_model


def test_validation_split_holds_out_21_percent_reproducibly():
    train, val = split_validation(100, 0.21, seed=3)
    assert len(val) == 21 and len(train) == 79
    assert not set(train) & set(val)
    np.testing.assert_array_equal(val, split_validation(100, 0.21, seed=3)[1])
    assert len(split_validation(3, 0.21, seed=0)[1]) == 1  # never an empty side


@pytest.fixture(scope="module")
def tiny():
    return simulate_dataset("thesis", 6, (32, 32), seed=2)


@pytest.fixture(scope="module")
def trained(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    result = train_model(tiny.images, tiny.labels, out_dir=out, architecture="small", epochs=4,
                         batch_size=3, steps_per_epoch=2, optimizer="adam", loss="weighted_cce",
                         augment="none", seed=7, data_info={"preset": "thesis"}, verbose=0)
    return out, result


def test_training_lowers_the_loss_and_writes_model_card_and_history(trained, tiny):
    out, result = trained
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert sorted(p.name for p in out.iterdir()) == ["history.csv", "model.card.json",
                                                     "model.keras"]
    card = json.loads((out / "model.card.json").read_text())
    assert card["architecture"] == "small" and card["loss"] == "weighted_cce"
    assert card["data"]["preset"] == "thesis"
    assert card["data"]["n_train"] + card["data"]["n_validation"] == len(tiny)
    assert card["epochs_run"] == 4 and 1 <= card["best_epoch"] <= 4
    assert sum(card["class_weights"]) == pytest.approx(4.0)
    best = np.argmin(result.history["val_loss"]) + 1
    assert card["best_epoch"] == best
    assert card["best_metrics"]["val_loss"] == pytest.approx(min(result.history["val_loss"]))
    assert {"val_accuracy", "val_mean_iou", "val_iou_cluster"} <= set(card["best_metrics"])
    history = read_history(out / "history.csv")
    np.testing.assert_allclose(history["val_loss"], result.history["val_loss"], rtol=1e-5)


def test_trained_model_reloads_and_predicts_the_same(trained):
    from ccdnb.model import load_model

    out, result = trained
    x = np.random.default_rng(0).normal(size=(1, 32, 32, 1)).astype("float32")
    model, card = load_model(out / "model.keras")
    assert card["best_epoch"] == result.best_epoch
    np.testing.assert_allclose(model.predict(x, verbose=0), result.model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_learning_curves_mark_the_best_epoch(trained):
    from ccdnb.plots.training import plot_learning_curves

    out, result = trained
    fig = plot_learning_curves(out / "history.csv")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:2] == ["loss", "pixel accuracy"]
    marks = [line for line in fig.axes[0].lines if line.get_linestyle() == "--"]
    assert [m.get_xdata()[0] for m in marks] == [result.best_epoch]


def test_train_command_trains_and_refuses_bad_input(tiny, tmp_path, capsys):
    data = tmp_path / "train.npz"
    save_dataset(data, tiny)
    out = tmp_path / "model"
    common = ["train", "--data", str(data), "--out-dir", str(out), "--epochs", "1",
              "--batch-size", "2", "--steps-per-epoch", "1", "--validation-split", "0", "--quiet"]
    assert main(common) == 0
    card = json.loads((out / "model.card.json").read_text())
    assert card["data"]["path"] == [str(data)] and card["data"]["presets"] == ["thesis"]
    # the frozen export for ONNX Runtime is written beside it, and matches it
    from ccdnb.runtime import OnnxModel, load_predictor

    assert isinstance(load_predictor(out / "model.keras", "onnx")[0], OnnxModel)
    # several datasets are combined into one training set
    other = tmp_path / "other.npz"
    save_dataset(other, simulate_dataset("random", 2, tiny.images.shape[1:], seed=9))
    both = common[:2] + [str(data), str(other)] + common[3:]
    assert main(both) == 0
    card = json.loads((out / "model.card.json").read_text())
    assert card["data"]["presets"] == ["random", "thesis"]
    assert card["command"].startswith(f"ccdnb train --data {data} {other} --out-dir {out}")
    assert card["data"]["n_images"] == len(tiny) + 2
    assert main(common + ["--optimizer", "rmsprop"]) == 2
    assert main(["train", "--data", str(tmp_path / "missing.npz"), "--out-dir", str(out)]) == 2
    assert main(common + ["--crop-size", "24"]) == 2  # not a multiple of 2**depth
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("ccdnb: error: ") for line in err)
    assert "rmsprop" in err[0] and "missing.npz" in err[1] and "crop_size" in err[2]


MIRRORED = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    from ccdnb.simulation import simulate_dataset
    from ccdnb.training.train import train_model
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    data = simulate_dataset("thesis", 4, (32, 32), seed=1)
    result = train_model(data.images, data.labels, out_dir=sys.argv[1], architecture="small",
                         epochs=1, batch_size=2, steps_per_epoch=2, optimizer="adam",
                         loss="dice_cce", seed=1, strategy=strategy, verbose=0)
    assert result.card["replicas"] == 2, result.card["replicas"]
    assert np.isfinite(result.history["loss"]).all()
    print("replicas", result.card["replicas"])
""")


def test_training_runs_under_mirrored_strategy_on_two_cpu_devices(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "replicas 2" in done.stdout
    assert (tmp_path / "model.keras").is_file()


def test_a_teacher_network_is_blended_into_the_targets(trained, tiny, tmp_path, capsys):
    """Knowledge distillation: the targets are (1 - w) * one-hot + w * the teacher's
    probabilities on the same inputs; the truth's class stays the largest."""
    import shutil

    from ccdnb.classes import N_CLASSES
    from ccdnb.predict.onnx_export import export_onnx
    from ccdnb.predict.runtime import open_model
    from ccdnb.training.augment import AugmentedSequence

    out, _ = trained
    teacher = tmp_path / "teacher.keras"
    shutil.copy(out / "model.keras", teacher)
    shutil.copy(out / "model.card.json", tmp_path / "teacher.card.json")
    plain = AugmentedSequence(tiny.images, tiny.labels, batch_size=3, shuffle=False)
    with pytest.raises(Exception, match="export"):  # a teacher runs from its ONNX export
        open_model(teacher, "onnx")
    export_onnx(teacher)
    predictor = open_model(teacher, "onnx").predictor
    taught = AugmentedSequence(tiny.images, tiny.labels, batch_size=3, shuffle=False,
                               teacher=predictor, teacher_weight=0.3)
    x, y = taught.batch(0, 0)
    x0, one_hot = plain.batch(0, 0)
    np.testing.assert_array_equal(x, x0)
    probabilities = predictor.predict_on_batch(x)
    np.testing.assert_allclose(y, 0.7 * one_hot + 0.3 * probabilities, atol=1e-6)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, atol=1e-5)
    assert y.shape[-1] == N_CLASSES and (y.argmax(-1) == one_hot.argmax(-1)).all()
    with pytest.raises(ValueError, match="teacher_weight"):
        AugmentedSequence(tiny.images, tiny.labels, batch_size=3, teacher=predictor,
                          teacher_weight=0.8)
    # the command: the teacher and its share recorded in the card; bad ones refused
    data = tmp_path / "train.npz"
    save_dataset(data, tiny)
    common = ["train", "--data", str(data), "--out-dir", str(tmp_path / "student"),
              "--epochs", "1", "--batch-size", "2", "--steps-per-epoch", "1", "--quiet"]
    assert main(common + ["--pretrained", str(teacher), "--teacher", str(teacher),
                          "--teacher-weight", "0.4"]) == 0
    card = json.loads((tmp_path / "student" / "model.card.json").read_text())
    assert card["teacher"]["model"] == str(teacher) and card["teacher"]["weight"] == 0.4
    assert "--teacher-weight 0.4" in card["command"]
    capsys.readouterr()
    assert main(common + ["--teacher", str(teacher), "--teacher-weight", "0.9"]) == 2
    assert main(common + ["--teacher", str(out / "model.keras")]) == 2  # no ONNX export
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("ccdnb: error: ") for line in err)
    assert "--teacher-weight" in err[0] and "export-onnx" in err[1]
