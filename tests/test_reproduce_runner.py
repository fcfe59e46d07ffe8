"""The papermill chain: selection, failure reporting, clean notebooks, the smoke run."""

import ast
import hashlib
import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

import ccdnb
from ccdnb import cli
from ccdnb.errors import CcdnbInputError
from ccdnb.reproduce.manifest import MANIFEST_NAME
from ccdnb.reproduce.profiles import NOTEBOOKS, PROFILES
from ccdnb.reproduce.runner import (
    REPO_ROOT,
    NotebookFailure,
    default_figures_dir,
    run_pipeline,
    select_notebooks,
)

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
COMMON_PARAMETERS = {"run_dir", "figures_dir", "profile"}


def test_select_notebooks_by_number_and_name():
    assert select_notebooks(None) == list(NOTEBOOKS)
    assert select_notebooks("05,04") == ["04_train", "05_evaluate"]
    assert select_notebooks(["1", "06_damic_inference"]) == ["01_simulate", "06_damic_inference"]
    with pytest.raises(CcdnbInputError, match="08"):
        select_notebooks("08")


def _write_notebook(path: Path, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


def test_failing_notebook_is_named_with_its_cell(tmp_path, capsys):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    _write_notebook(notebooks / "01_simulate.ipynb",
                    ['run_dir = ""\nfigures_dir = ""\nprofile = "smoke"',
                     "x = 1",
                     "# check the sizes\nraise RuntimeError('boom in cell')"])
    with pytest.raises(NotebookFailure) as info:
        run_pipeline("smoke", run_dir=tmp_path / "run", figures_dir=tmp_path / "fig",
                     only="01", notebooks_dir=notebooks, log=lambda line: None)
    failure = info.value
    assert failure.notebook == "01_simulate"
    assert failure.cell_index == 2  # the third cell of the source notebook
    assert "boom in cell" in str(failure) and "check the sizes" in str(failure)

    code = cli.main(["reproduce", "--profile", "smoke", "--only", "01",
                     "--run-dir", str(tmp_path / "run2"), "--figures-dir", str(tmp_path / "fig"),
                     "--notebooks-dir", str(notebooks)])
    assert code == 1
    err = capsys.readouterr().err
    assert "01_simulate failed in cell 2" in err and "RuntimeError: boom in cell" in err
    # the executed copy went to the run directory, the source is untouched
    assert (tmp_path / "run2" / "notebooks" / "01_simulate.ipynb").is_file()
    assert not nbformat.read(notebooks / "01_simulate.ipynb", 4).cells[2].get("outputs")


def _parameter_names(nb) -> set[str]:
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    tree = ast.parse(cell.source)
    return {t.id for node in tree.body if isinstance(node, ast.Assign)
            for t in node.targets if isinstance(t, ast.Name)}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_is_clean_and_takes_the_profile_parameters(name):
    path = NOTEBOOK_DIR / f"{name}.ipynb"
    assert path.is_file(), f"{path} is missing"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{name}: committed with outputs"
            assert cell.execution_count is None, f"{name}: committed with execution counts"
    expected = COMMON_PARAMETERS | set(PROFILES["smoke"][name])
    for profile in PROFILES.values():
        assert set(profile[name]) | COMMON_PARAMETERS == expected
    assert _parameter_names(nb) == expected


@pytest.fixture(scope="module")
def smoke_chain(tmp_path_factory):
    """One run of the smoke profile's whole chain, shared by the tests below."""
    root = tmp_path_factory.mktemp("smoke")
    lines = []
    runs = run_pipeline("smoke", run_dir=root / "run", figures_dir=root / "figures",
                        log=lines.append)
    return root, runs, lines


@pytest.mark.slow
def test_smoke_profile_runs_the_whole_chain(smoke_chain):
    tmp_path, runs, lines = smoke_chain
    assert [r.notebook for r in runs] == list(NOTEBOOKS)
    assert len(lines) == len(NOTEBOOKS) and all(" s" in ln for ln in lines)
    run = tmp_path / "run"
    for product in ["data/train.npz", "data/test.npz", "data/label_stats.json",
                    "model/model.keras", "model/model.card.json", "evaluation/metrics.json",
                    "timings.json"]:
        assert (run / product).is_file(), product
    assert list((run / "inference").glob("*.masks.fits"))
    figures = {p.name for p in (tmp_path / "figures").iterdir()}
    for prefix in ("01_", "02_", "03_", "04_", "05_", "06_"):
        assert any(f.startswith(prefix) and f.endswith(".png") for f in figures), prefix
    assert "05_classification_report.txt" in figures
    # Table 1 beside the thesis, and the thesis's experiments, each a figure
    assert {"05_table1.txt", "05_figure16.png"} <= figures
    for name in ("balanced_vs_imbalanced", "weighted_vs_unweighted", "figure16"):
        assert {f"05_experiment_{name}.png", f"05_experiment_{name}.csv"} <= figures
    metrics = json.loads((run / "evaluation/metrics.json").read_text())
    assert set(metrics["experiments"]["figure16"]) == {
        "tuned, imbalanced set", "raised cluster weight", "balanced set"}
    timings = json.loads((run / "timings.json").read_text())
    assert set(timings["seconds"]) == set(NOTEBOOKS)


@pytest.mark.slow
def test_smoke_manifest_records_provenance_hashes_and_times(smoke_chain):
    tmp_path, runs, _ = smoke_chain
    figures = tmp_path / "figures"
    manifest = json.loads((figures / MANIFEST_NAME).read_text())
    made_by = manifest["provenance"]
    assert made_by["profile"] == "smoke" and made_by["ccdnb_version"] == ccdnb.__version__
    assert len(made_by["commit"]) == 40 and isinstance(made_by["dirty"], bool)  # a checkout
    assert made_by["machine"]["cpu"] and made_by["machine"]["cores"] >= 1
    assert {"python", "tensorflow", "keras", "numpy"} <= set(made_by["versions"])
    # every output but the manifest, with the hash of its bytes
    outputs = manifest["outputs"]
    assert set(outputs) == {p.name for p in figures.iterdir()} - {MANIFEST_NAME}
    name = "05_classification_report.txt"
    assert outputs[name] == hashlib.sha256((figures / name).read_bytes()).hexdigest()
    assert manifest["notebooks_run"] == list(NOTEBOOKS)
    seconds = manifest["timings"]["seconds"]
    assert seconds == {r.notebook: round(r.seconds, 1) for r in runs}
    assert "differ" in manifest["timings"]["note"]


@pytest.mark.slow
def test_smoke_chain_twice_gives_the_same_model_and_outputs(smoke_chain, tmp_path):
    import keras

    first, _, _ = smoke_chain
    run_pipeline("smoke", run_dir=tmp_path / "run", figures_dir=tmp_path / "figures",
                 log=lambda line: None)
    outputs = [json.loads((root / "figures" / MANIFEST_NAME).read_text())["outputs"]
               for root in (first, tmp_path)]
    assert list(outputs[0]) == list(outputs[1])
    differ = sorted(name for name in outputs[0] if outputs[0][name] != outputs[1][name])
    assert not differ, f"outputs differ between two runs: {differ}"
    # the same model, bit for bit (the .keras file itself records when it was saved)
    weights = [keras.saving.load_model(root / "run/model/model.keras", compile=False).get_weights()
               for root in (first, tmp_path)]
    assert len(weights[0]) == len(weights[1])
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_each_profile_writes_its_own_figures_folder():
    folders = {default_figures_dir(p) for p in ("smoke", "quick", "thesis")}
    assert len(folders) == 3 and all(f.parent == REPO_ROOT / "figures" for f in folders)
    assert default_figures_dir("quick").name == "quick"
