"""Simulated frames written as FITS, one extension per amplifier."""

import numpy as np
import pytest
from astropy.io import fits

from ccdnb.classes import GLOWING
from ccdnb.simulation import simulate_frame, write_simulated_fits


@pytest.mark.parametrize("compress", [False, True])
def test_damic_frame_fits_has_one_extension_per_amplifier(tmp_path, compress):
    amps = simulate_frame((64, 96), n_amplifiers=4, seed=2)
    assert [a.meta["amplifier"] for a in amps] == ["A", "B", "C", "D"]
    assert len({a.meta["pedestal_adu"] for a in amps}) == 4
    for amp in amps:  # glow at the amplifier's readout edge
        glow_cols = np.flatnonzero((amp.label == GLOWING).any(axis=0))
        assert glow_cols.size and (glow_cols.max() < 48 if amp.meta["readout_edge"] == "left"
                                   else glow_cols.min() >= 48)
    path = write_simulated_fits(tmp_path / "frame.fits", amps, compress=compress)
    with fits.open(path) as hdul:
        assert hdul[0].data is None
        assert [h.name for h in hdul[1:]] == ["CCD_A", "CCD_B", "CCD_C", "CCD_D"]
        for hdu, amp in zip(hdul[1:], amps):
            assert isinstance(hdu, fits.CompImageHDU) == compress
            assert hdu.data.shape == (64, 96)
            assert hdu.header["RDNOISE"] == pytest.approx(amp.meta["read_noise_adu"])
            assert hdu.header["GAIN"] == pytest.approx(amp.meta["gain_adu_per_e"])
            assert hdu.header["CCDNBSIM"] == "damic"
            np.testing.assert_allclose(hdu.data, amp.image, atol=amp.meta["read_noise_adu"])
