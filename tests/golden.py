"""The golden outputs of ``ccdnb predict`` (see tests/data/make_golden.py).

For each input file, :func:`golden_record` runs the code behind ``ccdnb predict --catalog
--probabilities`` (the shipped default model, its default engine) and keeps: every mask,
the catalog and DS9 texts, and SHA-256 digests of every output byte (headers with their
volatile cards left out) together with the CPU flags that change numerics. On the machine
that wrote them the digests must match; on any other CPU the masks must agree but for a
few pixels and the catalogs in their counts (the network's last bits differ between
instruction sets; tests/test_golden_outputs.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"
GOLDEN_DIR = DATA_DIR / "golden"
INPUTS = {
    "saao": DATA_DIR / "saao_a8280271_raw_256.fits",
    "gmos": DATA_DIR / "gmos_sci.fits",
    "stis": DATA_DIR / "o4sp040b0_raw.fits",
    "skipper_dense": GOLDEN_DIR / "skipper_dense_2amp.fits.fz",
    "damic": GOLDEN_DIR / "damic_2amp.fits.fz",
}
#: Header cards that change from run to run or machine to machine, not with the pipeline.
VOLATILE = ("CCDNBVER", "DATE", "CCDNBIN", "CHECKSUM", "DATASUM")
#: /proc/cpuinfo flags whose presence changes the network's floating-point results.
NUMERIC_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile",
                 "amx_bf16", "amx_int8")


def cpu_flags() -> list:
    """The :data:`NUMERIC_FLAGS` this CPU has."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return [flag for flag in NUMERIC_FLAGS if flag in flags]
    return []


def _digest(*parts) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part if isinstance(part, bytes) else str(part).encode())
    return sha.hexdigest()


def _header_text(header) -> str:
    return "\n".join(str(card) for card in header.cards if card.keyword not in VOLATILE)


def golden_record(path, tmp_dir=None) -> dict:
    """Every output of ``ccdnb predict --catalog --probabilities`` on ``path``.

    Returns
    -------
    dict
        ``masks`` ({EXTNAME#index: uint8 array}), ``catalog`` (CSV text), ``regions``
        ({file name: text}), ``digests`` ({part: SHA-256}).
    """
    import tempfile

    from astropy.io import fits

    from ccdnb.predict import predict_file

    with tempfile.TemporaryDirectory(dir=tmp_dir) as out:
        out = Path(out)
        masks_file = predict_file(path, out, catalog=True, probabilities=True, progress=False)
        masks, digests = {}, {}
        with fits.open(masks_file) as hdul:
            for index, hdu in enumerate(hdul):
                key = f"{index}:{hdu.name}"
                digests[f"{key}:header"] = _digest(_header_text(hdu.header))
                if hdu.data is None:
                    continue
                if isinstance(hdu, fits.BinTableHDU):
                    digests[f"{key}:table"] = _digest(np.asarray(hdu.data).tobytes())
                    continue
                data = np.ascontiguousarray(hdu.data)
                digests[f"{key}:data"] = _digest(str(data.dtype), data.shape, data.tobytes())
                if data.dtype == np.uint8:
                    masks[key] = data.copy()
        catalogs = sorted(out.glob("*.catalog.csv"))
        catalog = catalogs[0].read_text() if catalogs else ""
        regions = {p.name: p.read_text() for p in sorted(out.glob("*.reg"))}
    digests["catalog"] = _digest(catalog)
    for name, text in regions.items():
        digests[f"region:{name}"] = _digest(text)
    return {"masks": masks, "catalog": catalog, "regions": regions, "digests": digests}


def save_record(records: dict) -> None:
    """Write ``records`` ({input name: golden_record}) to GOLDEN_DIR."""
    arrays = {f"{name}|{key}": mask for name, record in records.items()
              for key, mask in record["masks"].items()}
    np.savez_compressed(GOLDEN_DIR / "expected.npz", **arrays)
    meta = {"cpu_flags": cpu_flags(),
            "inputs": {name: {"catalog": record["catalog"], "regions": record["regions"],
                              "digests": record["digests"]}
                       for name, record in records.items()}}
    (GOLDEN_DIR / "expected.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


def load_record() -> tuple:
    """``(meta, masks)`` as :func:`save_record` wrote them; masks keyed ``(name, key)``."""
    meta = json.loads((GOLDEN_DIR / "expected.json").read_text())
    with np.load(GOLDEN_DIR / "expected.npz") as data:
        masks = {tuple(key.split("|", 1)): data[key] for key in data.files}
    return meta, masks
