"""The background estimate on frames crossed by MeV electrons, with glow or a dense field.

Since the simulator draws electrons up to 2 MeV (d00c0ac), ``benchmarks/background_accuracy.py``
met frames where the estimate broke: a glow band across whole rows (no zero-charge pixel
in them) buried the first fit of the zero-charge peak (noise 8.5x), and in a skipper field
of ~3 e-/pixel one row's level on the 1-electron peak at the end of a block of rows let
that whole block pass for a full-width signal (pedestal 6.9 sigma off). The frames below
hold both, with long, bright, curling MeV tracks.
"""

import numpy as np
import pytest

from ccdnb.background import estimate_background

#: Electrons drawn at these energies (keV): tracks of 2-5 mm that curl and cross many rows.
MEV = (1000.0, 2000.0)


def _errors(sim, image, rows=slice(None)):
    """Estimated over true noise, and the median |pedestal error| (sigma) over ``rows``."""
    sigma = sim.meta["read_noise_adu"]
    pedestal, noise = estimate_background(image)
    truth = np.asarray(sim.meta["row_pedestal_adu"])
    return noise / sigma, float(np.median(np.abs(pedestal - truth)[rows]) / sigma)


@pytest.mark.parametrize("seed, glow_sigma", [(1, 40.0), (6, 40.0), (2, 150.0), (6, 150.0)])
def test_glow_across_half_of_the_rows_with_mev_electrons(seed, glow_sigma):
    """A glow band with its shot noise over every column of the top half: those rows have
    no zero-charge pixel, yet the noise and the other rows' pedestal hold, and the band's
    rows get the pedestal of the rows below, so that the glow stays signal. Its level
    (read-noise sigma) steps from row to row by its shot noise over the row: a few sigma."""
    from ccdnb.simulation import simulate_image

    sim = simulate_image("damic", 256, seed, worm_kev=MEV, n_worms=40.0, read_noise_adu=2.0,
                         gain_adu_per_e=7.0)
    sigma, gain = sim.meta["read_noise_adu"], sim.meta["gain_adu_per_e"]
    image = sim.image.astype(np.float64)
    image[:128] += gain * np.random.default_rng(seed).poisson(glow_sigma * sigma / gain, (128, 256))
    ratio, clean = _errors(sim, image, slice(128, None))
    _, glow = _errors(sim, image, slice(None, 128))
    assert abs(ratio - 1.0) <= 0.05, ratio
    assert clean <= 0.1, clean
    assert glow <= 2.0, glow


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_dense_skipper_field_with_mev_electrons_and_strong_drift(seed):
    """A skipper field rising from 1 to 4 e-/pixel along the readout: the last rows have a
    few pixels without charge each, and some rows' levels land on the 1-electron peak.
    Drift of 13-20 sigma over the frame. The 0.1 sigma tolerance is not met on such a field
    (test_normalize.KNOWN_SHORT, skipper-dense); 0.2 sigma is today's error plus a margin."""
    from ccdnb.simulation import simulate_image

    sim = simulate_image("skipper", 256, seed, worm_kev=MEV, n_worms=20.0, dark_current_e=1.8,
                         dark_rise=4.0, row_drift=True, row_drift_adu=4.0, gain_adu_per_e=4.7,
                         read_noise_adu=1.0, glow_fraction=0.0)
    ratio, pedestal = _errors(sim, sim.image)
    assert abs(ratio - 1.0) <= 0.05, ratio
    assert pedestal <= 0.2, pedestal


@pytest.mark.parametrize("seed, bound", [(77000, 0.35), (77002, 0.2)])
def test_the_benchmark_frames_that_broke(seed, bound):
    """The two random-preset frames of background_accuracy.py that broke (noise 8.5x,
    pedestal 6.9 sigma). Glow along whole rows without overscan columns keeps their
    pedestal short of 0.1 sigma (test_normalize.KNOWN_SHORT, random): ``bound`` is today's
    error (0.27, 0.16) plus a margin."""
    from ccdnb.simulation import simulate_image

    sim = simulate_image("random", 256, seed)
    ratio, pedestal = _errors(sim, sim.image)
    assert abs(ratio - 1.0) <= 0.05, ratio
    assert pedestal <= bound, pedestal
