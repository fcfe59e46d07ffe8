"""The figures folder's manifest: provenance, hashes apart from times, partial runs."""

import hashlib
import json

from ccdnb.reproduce.manifest import (
    MANIFEST_NAME,
    NUMERIC_CPU_FLAGS,
    NUMERIC_ENVIRONMENT_VARIABLES,
    cpu_flags,
    git_state,
    numeric_environment,
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


#: The flags line of an AMX CPU (Sapphire Rapids, abridged) and of an AVX2-only one.
AMX_FLAGS = ("fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2 avx512f avx512dq avx512cd "
             "avx512bw avx512vl avx512_vnni avx512_bf16 avx512_fp16 amx_bf16 amx_tile amx_int8")
AVX2_FLAGS = "fpu sse sse2 ssse3 sse4_1 sse4_2 avx f16c fma avx2"


def _cpuinfo(tmp_path, flags, cores=2):
    blocks = [f"processor\t: {k}\nmodel name\t: Some CPU\nflags\t\t: {flags}\n"
              for k in range(cores)]
    path = tmp_path / "cpuinfo"
    path.write_text("\n".join(blocks))
    return path


def test_cpu_flags_name_the_extensions_that_change_numerics(tmp_path):
    assert cpu_flags(_cpuinfo(tmp_path, AMX_FLAGS)) == [
        "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16",
        "amx_tile", "amx_bf16", "amx_int8"]
    assert cpu_flags(_cpuinfo(tmp_path, AVX2_FLAGS)) == ["avx", "avx2", "fma"]
    # unknown is not "none": another architecture's cpuinfo, or none at all
    (tmp_path / "arm").write_text("processor\t: 0\nFeatures\t: fp asimd\n")
    assert cpu_flags(tmp_path / "arm") is None
    assert cpu_flags(tmp_path / "missing") is None


def test_the_manifest_records_this_machines_numerics(monkeypatch):
    """Two machines whose numerics differ make different figures (issue 35: an AMX CPU
    wrote another quick-profile model); the manifest says which numerics made them."""
    from pathlib import Path

    for name in NUMERIC_ENVIRONMENT_VARIABLES:  # whatever an earlier test left set
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    machine = provenance("smoke", REPO_ROOT)["machine"]
    numerics = machine["numerics"]
    assert numerics == json.loads(json.dumps(numerics))  # JSON as it is
    assert numerics["environment"] == {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists() and "flags" in cpuinfo.read_text():
        have = set(next(line for line in cpuinfo.read_text().splitlines()
                        if line.startswith("flags")).split(":", 1)[1].split())
        assert numerics["cpu_flags"] == [f for f in NUMERIC_CPU_FLAGS if f in have]
    if numerics["numpy_simd"] is not None and "avx2" in (numerics["cpu_flags"] or []):
        assert "AVX2" in numerics["numpy_simd"]
    if numerics["openvino"] is not None:
        assert "FP32" in numerics["openvino"]["capabilities"]
    assert numeric_environment() == numerics  # the same machine, the same record
