"""``ccdnb calibrate``: the gain of every image, printed and written with a figure."""

import json

import numpy as np
import pytest
from astropy.io import fits

from ccdnb.cli import main


def _skipper(gain=2.5, noise_e=0.2, rate=0.5, shape=(200, 240), seed=0):
    rng = np.random.default_rng(seed)
    return (1000.0 + gain * rng.poisson(rate, shape)
            + rng.normal(0.0, noise_e * gain, shape)).astype(np.float32)


def _fe55(gain=8.0, noise_adu=12.0, n_xrays=300, shape=(400, 400), seed=1):
    """Conventional noise and Fe-55 X-rays (K-alpha 1565 e-, K-beta 1721 e-) in 3x3 blobs."""
    rng = np.random.default_rng(seed)
    image = 2000.0 + rng.normal(0.0, noise_adu, shape)
    share = np.array([[0.05, 0.1, 0.05], [0.1, 0.4, 0.1], [0.05, 0.1, 0.05]])
    rows = 4 + 12 * (np.arange(n_xrays) // 32)
    cols = 4 + 12 * (np.arange(n_xrays) % 32)
    for row, col in zip(rows, cols):
        electrons = 1565.0 if rng.random() < 0.88 else 1721.0
        image[row - 1:row + 2, col - 1:col + 2] += gain * electrons * share
    return image.astype(np.float32)


def test_calibrate_writes_the_fit_and_its_figure(tmp_path, capsys):
    path = tmp_path / "frame.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(_skipper(), name="SKP"),
                  fits.ImageHDU(_fe55(), name="FE55")]).writeto(path)
    out = tmp_path / "cal"
    assert main(["calibrate", str(path), "--out-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "frame.fits[SKP]: gain " in printed and "(skipper peaks)" in printed
    assert "(Fe-55 lines)" in printed
    records = json.loads((out / "frame.calibration.json").read_text())["images"]
    by_name = {record["extname"]: record for record in records}
    assert by_name["SKP"]["gain_adu_per_e"] == pytest.approx(2.5, rel=0.01)
    assert by_name["FE55"]["method"] == "Fe-55 lines"
    assert by_name["FE55"]["gain_adu_per_e"] == pytest.approx(8.0, rel=0.02)
    assert (out / "frame.calibration.csv").read_text().startswith("hdu,extname,method")
    for name in ("SKP", "FE55"):
        assert (out / f"frame.{name}.gain.png").read_bytes()[:4] == b"\x89PNG"


def test_a_given_gain_and_no_gain(tmp_path, capsys):
    path = tmp_path / "flat.fits"
    rng = np.random.default_rng(2)
    fits.PrimaryHDU(rng.normal(100.0, 3.0, (64, 64)).astype(np.float32)).writeto(path)
    assert main(["calibrate", str(path), "--out-dir", str(tmp_path)]) == 0
    assert "no gain (energies stay in ADU)" in capsys.readouterr().out
    assert main(["calibrate", str(path), "--out-dir", str(tmp_path), "--gain", "4.2",
                 "--overwrite"]) == 0
    assert "gain 4.2 ADU/e- (user)" in capsys.readouterr().out


def test_bad_input_is_one_error_line_and_no_output(tmp_path, capsys):
    missing = tmp_path / "missing.fits"
    assert main(["calibrate", str(missing), "--out-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ccdnb: error:") and "missing.fits" in err[0]
    assert not (tmp_path / "out").exists()
    assert main(["calibrate", str(missing), "--gain", "-1"]) == 2
    assert "--gain" in capsys.readouterr().err
