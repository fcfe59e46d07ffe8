"""The figures folder's manifest: provenance, hashes apart from times, partial runs."""

import hashlib
import json

from ccdnb.reproduce.manifest import (
    MANIFEST_NAME,
    git_state,
    output_hashes,
    provenance,
    write_manifest,
)
from ccdnb.reproduce.runner import REPO_ROOT


def test_outside_a_checkout_the_commit_is_unknown(tmp_path):
    assert git_state(tmp_path) == {"commit": "unknown", "describe": "unknown", "dirty": None}


def test_hashes_cover_every_output_but_the_manifest_and_hidden_files(tmp_path):
    (tmp_path / "a.png").write_bytes(b"png bytes")
    (tmp_path / "b.csv").write_text("x,y\n1,2\n")
    (tmp_path / ".a.png.tmp").write_bytes(b"half written")
    (tmp_path / MANIFEST_NAME).write_text("{}")
    (tmp_path / "sub").mkdir()
    hashes = output_hashes(tmp_path)
    assert list(hashes) == ["a.png", "b.csv"]
    assert hashes["a.png"] == hashlib.sha256(b"png bytes").hexdigest()


def test_a_partial_run_keeps_the_other_notebooks_times_and_rehashes_everything(tmp_path):
    made_by = provenance("smoke", REPO_ROOT)
    (tmp_path / "01_x.png").write_bytes(b"one")
    write_manifest(tmp_path, made_by, {"01_simulate": 2.04, "02_label": 3.0})
    (tmp_path / "02_y.txt").write_text("two\n")
    write_manifest(tmp_path, made_by, {"02_label": 5.0})  # --only 02
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert manifest["notebooks_run"] == ["02_label"]
    assert manifest["timings"]["seconds"] == {"01_simulate": 2.0, "02_label": 5.0}
    assert manifest["timings"]["total_s"] == 7.0
    assert set(manifest["outputs"]) == {"01_x.png", "02_y.txt"}
    # the times live apart from what two runs must share
    assert not {"seconds", "total_s"} & set(manifest["provenance"])
    # another profile's times are not carried over
    write_manifest(tmp_path, {**made_by, "profile": "quick"}, {"04_train": 9.0})
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert manifest["timings"]["seconds"] == {"04_train": 9.0}
