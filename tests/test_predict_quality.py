"""``ccdnb predict --quality``: the quality bit mask per image and the single-electron rate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from ccdnb.errors import CcdnbInputError
from ccdnb.objects.quality_mask import QUALITY_BITS
from ccdnb.predict import predict_fits

FRAME = Path(__file__).resolve().parent / "data" / "golden" / "skipper_dense_2amp.fits.fz"


@pytest.fixture(scope="module")
def truth():
    from ccdnb.simulation.dataset import simulate_frame

    # tests/data/make_golden.py wrote FRAME from these (RICE-compressed)
    return [sim.meta["electron_rate"] for sim in
            simulate_frame((200, 320), n_amplifiers=2, seed=424242, preset="skipper-dense")]


@pytest.fixture(scope="module")
def segmented():
    return predict_fits(_model(), str(FRAME), quality={},
                        catalog=True)


def _model():
    from ccdnb.api import get_segmenter

    return get_segmenter("default").model


def test_every_image_gets_a_quality_hdu_with_its_bits_named(segmented):
    names = [hdu.name for hdu in segmented]
    assert names[:5] == ["PRIMARY", "CCD_A", "CCD_B", "CCD_A_QUALITY", "CCD_B_QUALITY"]
    for index in (3, 4):
        hdu = segmented[index]
        assert hdu.data.dtype == np.uint16 and hdu.data.shape == segmented[index - 2].data.shape
        for bit in QUALITY_BITS:
            assert hdu.header[f"QBIT{bit.bit}"] == bit.name
        # every cluster pixel of the class mask carries the CLUSTER bit
        clusters = segmented[index - 2].data == 3
        assert np.all(hdu.data[clusters] & 1)
        assert 0.8 <= hdu.header["QCLEAN"] < 1.0


def test_the_rate_on_clean_pixels_matches_the_simulated_field(segmented, truth):
    for index, amp in zip((1, 2), truth):
        header = segmented[index].header
        rate, error = header["CCDNBRT"], header["CCDNBRTE"]
        assert abs(rate - amp["mean_e_per_pix"]) <= max(0.03 * amp["mean_e_per_pix"], 2 * error)
        assert header["CCDNBRSL"] == pytest.approx(amp["slope_per_krow"], rel=0.10)
        assert "Poisson" in header["CCDNBRTM"]


def test_the_command_line_writes_the_quality_hdus_and_rejects_a_bad_option(tmp_path):
    run = [sys.executable, "-m", "ccdnb", "predict", str(FRAME), "--quiet", "--quality"]
    done = subprocess.run(run + ["--out-dir", str(tmp_path / "a"), "--quality-option",
                                 "halo_radius=5", "--quality-option", "edge_width=3"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with fits.open(tmp_path / "a" / "skipper_dense_2amp.masks.fits") as hdul:
        assert hdul["CCD_A_QUALITY"].header["QHALOR"] == 5.0
        assert hdul["CCD_A_QUALITY"].header["QEDGE"] == 3
        edge = hdul["CCD_A_QUALITY"].data & (1 << 6)
        assert np.all(edge[:3]) and not np.any(edge[10:-10, 10:-10])
    for option, fragment in (("halo_radius", "NAME=VALUE"), ("no_such=1", "unknown"),
                             ("edge_width=wide", "expected an integer")):
        bad = subprocess.run(run + ["--out-dir", str(tmp_path / "b"), "--quality-option",
                                    option], capture_output=True, text=True)
        assert bad.returncode == 2 and fragment in bad.stderr, bad.stderr
        assert bad.stderr.strip().count("\n") == 0
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


def test_a_bad_quality_option_in_python_is_one_error_before_any_work():
    with pytest.raises(CcdnbInputError, match="unknown quality mask option"):
        predict_fits(_model(), str(FRAME), quality={"halo": 3})
