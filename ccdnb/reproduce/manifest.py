"""The manifest of a figures folder: what made its files, and a hash of each.

Every reproduction writes ``figures/<profile>/manifest.json``:

- ``provenance``: the commit (``git describe`` and the full hash; ``"unknown"``
  outside a git checkout), whether the checkout had uncommitted changes when the
  run started (``figures/`` itself aside, since a run rewrites it), the ccdnb
  version, the profile, the machine (CPU model, cores, and the instruction-set
  extensions and engine settings that change floating-point results:
  :func:`numeric_environment`) and the versions of Python and the packages the
  results depend on;
- ``outputs``: the SHA-256 of every file in the folder, by name;
- ``timings``: seconds per notebook. Times differ from run to run and machine to
  machine; the other sections do not (on one machine, the same profile and
  seeds give the same bytes), so compare ``outputs`` between runs, not the
  whole file.

Two machines agree bit for bit only when their numerics agree: oneDNN (inside
TensorFlow and OpenVINO), ONNX Runtime and NumPy pick their kernels by the CPU's
vector extensions (AVX2 and FMA, AVX-512, AVX-512-BF16, AMX), and each kernel
sums in its own order. Training amplifies the last bits into another model, so
the figures of two machines whose ``numerics`` differ differ too
(``docs/reproducibility.md``).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

from ..io.atomic import write_json_atomic

__all__ = ["KEY_PACKAGES", "MANIFEST_NAME", "NUMERIC_CPU_FLAGS", "NUMERIC_ENVIRONMENT_VARIABLES",
           "cpu_flags", "cpu_model", "git_state", "machine_info", "numeric_environment",
           "output_hashes", "package_versions", "provenance", "read_manifest",
           "write_manifest"]

MANIFEST_NAME = "manifest.json"

#: ``/proc/cpuinfo`` flags of the instruction-set extensions whose kernels change
#: floating-point results (fused multiply-add, the vector widths, bfloat16 and the
#: AMX matrix tiles that oneDNN and OpenVINO use where the CPU has them).
NUMERIC_CPU_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16",
                     "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8")
#: Environment variables that cap or switch the kernels oneDNN, TensorFlow and OpenMP use.
NUMERIC_ENVIRONMENT_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA",
                                 "TF_ENABLE_ONEDNN_OPTS", "ONEDNN_DEFAULT_FPMATH_MODE",
                                 "OMP_NUM_THREADS")

#: Packages whose versions can change the figures (recorded in the manifest).
KEY_PACKAGES = ("tensorflow", "keras", "numpy", "scipy", "matplotlib", "imgaug", "astropy")

TIMINGS_NOTE = ("wall-clock seconds per notebook on the machine named above; they differ "
                "from run to run and between machines, the hashes do not")


def _git(repo: Path, *args: str) -> str | None:
    """Output of ``git -C repo args`` (stripped), or None when git or the checkout is missing."""
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state(repo) -> dict:
    """The checkout's commit and whether it has uncommitted changes.

    Parameters
    ----------
    repo : path
        A folder inside the checkout.

    Returns
    -------
    dict
        ``commit`` (full hash), ``describe`` (``git describe --always --dirty``)
        and ``dirty`` (bool; changes under ``figures/`` do not count, a
        reproduction rewrites them). ``"unknown"`` and None outside a git checkout.
    """
    repo = Path(repo)
    commit = _git(repo, "rev-parse", "HEAD")
    if commit is None:
        return {"commit": "unknown", "describe": "unknown", "dirty": None}
    status = _git(repo, "status", "--porcelain", "--", ".", ":(exclude)figures")
    return {"commit": commit,
            "describe": _git(repo, "describe", "--always", "--tags") or commit[:12],
            "dirty": None if status is None else bool(status)}


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else :func:`platform.processor`)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":", 1)[0].strip() in ("model name", "Model", "cpu model"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_flags(cpuinfo="/proc/cpuinfo", names=NUMERIC_CPU_FLAGS) -> list[str] | None:
    """The extensions of ``names`` that the CPU has, in that order.

    Read from the first ``flags`` line of ``cpuinfo`` (Linux on x86-64); None
    where there is none (another OS or architecture), so that unknown is not
    read as "none of them".
    """
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            have = set(value.split())
            return [name for name in names if name in have]
    return None


def _openvino_cpu() -> dict | None:
    """OpenVINO's view of the CPU (its kernels' precisions and default precision), or None.

    OpenVINO needs no TensorFlow and loads in under a second, so it is asked
    whenever it is installed.
    """
    if find_spec("openvino") is None:
        return None
    try:
        from ..quiet_openvino import import_openvino_quietly

        openvino = import_openvino_quietly()
        core = openvino.Core()
        precision = core.get_property("CPU", "INFERENCE_PRECISION_HINT")
        return {"capabilities": [str(c) for c in
                                 core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")],
                "default_precision": getattr(precision, "get_type_name", precision.__str__)()}
    except Exception as err:  # a broken install must not stop a reproduction
        return {"error": str(err).splitlines()[0] if str(err) else type(err).__name__}


def _numpy_simd() -> list[str] | None:
    """The SIMD extensions NumPy dispatches its loops to on this CPU (sums, arctan, ...)."""
    try:
        from numpy.core._multiarray_umath import __cpu_dispatch__, __cpu_features__
    except ImportError:  # another NumPy layout: unknown
        return None
    return [name for name in __cpu_dispatch__ if __cpu_features__.get(name)]


def numeric_environment(cpuinfo="/proc/cpuinfo") -> dict:
    """What decides the kernels, hence the last bits, of this machine's arithmetic.

    Returns
    -------
    dict
        ``cpu_flags`` (:func:`cpu_flags`: AVX2, FMA, AVX-512F, AVX-512-BF16, AMX...),
        ``numpy_simd`` (the extensions NumPy's loops use), ``openvino`` (its CPU
        capabilities, BF16 among them on AMX and AVX-512-BF16 CPUs, and its default
        precision; None when it is not installed) and ``environment`` (the
        variables of :data:`NUMERIC_ENVIRONMENT_VARIABLES` that are set, such as
        ``ONEDNN_MAX_CPU_ISA``, which caps the ISA oneDNN uses in TensorFlow).
        TensorFlow itself is not imported: it takes seconds, and its oneDNN picks
        the highest ISA of ``cpu_flags`` unless the environment caps it.
    """
    return {"cpu_flags": cpu_flags(cpuinfo), "numpy_simd": _numpy_simd(),
            "openvino": _openvino_cpu(),
            "environment": {name: os.environ[name] for name in NUMERIC_ENVIRONMENT_VARIABLES
                            if name in os.environ}}


def machine_info() -> dict:
    """CPU model, the cores this process may use and the host's total, OS, architecture,
    and the numerics of this machine (:func:`numeric_environment`)."""
    from ..predict.runtime import available_cores

    return {"cpu": cpu_model(), "cores": available_cores(), "cores_total": os.cpu_count(),
            "platform": platform.platform(), "architecture": platform.machine(),
            "numerics": numeric_environment()}


def package_versions(names=KEY_PACKAGES) -> dict:
    """Installed version of each package (None when it is not installed); no imports."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def output_hashes(folder, *, exclude=(MANIFEST_NAME,)) -> dict:
    """SHA-256 of every file in ``folder`` (not recursive; hidden files skipped), by name."""
    from ..io.fits import file_sha256

    return {p.name: file_sha256(p) for p in sorted(Path(folder).iterdir())
            if p.is_file() and not p.name.startswith(".") and p.name not in exclude}


def provenance(profile: str, repo) -> dict:
    """The manifest's ``provenance`` section (see the module notes); take it before a run starts."""
    from .. import __version__

    return {"profile": profile, **git_state(repo), "ccdnb_version": __version__,
            "machine": machine_info(), "versions": package_versions()}


def read_manifest(folder) -> dict:
    """The manifest in ``folder``, or ``{}`` when there is none or it is unreadable."""
    try:
        return json.loads((Path(folder) / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return {}


def write_manifest(folder, provenance_section: dict, seconds: dict[str, float]) -> Path:
    """Write ``folder/manifest.json`` (atomically) and return its path.

    Parameters
    ----------
    folder : path
        The figures folder; every file in it is hashed.
    provenance_section : dict
        From :func:`provenance`, taken when the run started.
    seconds : dict of str to float
        Elapsed seconds of the notebooks this run executed. Those of notebooks
        it did not run (``--only``) are kept from the previous manifest when
        that one is of the same profile.

    Returns
    -------
    Path
    """
    folder = Path(folder)
    previous = read_manifest(folder)
    timings = {}
    if previous.get("provenance", {}).get("profile") == provenance_section.get("profile"):
        timings = dict(previous.get("timings", {}).get("seconds", {}))
    timings.update({name: round(float(s), 1) for name, s in seconds.items()})
    manifest = {
        "provenance": provenance_section,
        "notebooks_run": list(seconds),
        "outputs": output_hashes(folder),
        "timings": {"note": TIMINGS_NOTE, "seconds": dict(sorted(timings.items())),
                    "total_s": round(sum(timings.values()), 1)},
    }
    return write_json_atomic(folder / MANIFEST_NAME, manifest)
