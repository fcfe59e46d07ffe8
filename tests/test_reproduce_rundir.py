"""The run directory the six notebooks share."""

from pathlib import Path

from ccdnb.reproduce.rundir import run_paths


def test_run_paths_name_what_each_notebook_reads_and_writes(tmp_path):
    run = run_paths(tmp_path / "run")
    assert run.figures == tmp_path / "run" / "figures"
    assert run.train_data == tmp_path / "run" / "data" / "train.npz"
    assert run.test_data.name == "test.npz" and run.label_stats.name == "label_stats.json"
    assert run.model == tmp_path / "run" / "model" / "model.keras"
    assert run.metrics.parent == run.evaluation == tmp_path / "run" / "evaluation"
    assert run.predictions.name == "predictions.npz" and run.experiments.parent == run.evaluation
    assert run.inference == tmp_path / "run" / "inference"
    assert not (tmp_path / "run").exists()
    run.ensure(run.inference)
    assert run.inference.is_dir()
    assert run_paths("r", "figs").figures == Path("figs")
