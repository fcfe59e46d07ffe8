"""Small hand-made and simulated scenes shared by several test modules."""

import numpy as np

#: Flat detector of the evaluation tests: pedestal and read noise (ADU).
PEDESTAL, NOISE = 1500.0, 4.0

#: Simulator overrides that switch every object off (detector response only).
NO_OBJECTS = dict(glow_fraction=0.0, n_hot_pixels=0, n_hot_segments=0, n_hot_columns=0,
                  n_hot_streaks=0, n_diffuse=0, n_worms=0, n_muons=0, n_alphas=0)


def noise_image(shape=(128, 128), seed=0):
    """Pedestal plus Gaussian read noise (float32 ADU)."""
    rng = np.random.default_rng(seed)
    return (PEDESTAL + NOISE * rng.standard_normal(shape)).astype(np.float32)


def gaussian_blob(shape, row, col, peak_sigma, width):
    """A round Gaussian of ``peak_sigma`` read-noise sigma at (row, col), ADU above 0."""
    rows, cols = np.indices(shape)
    return peak_sigma * NOISE * np.exp(-((rows - row) ** 2 + (cols - col) ** 2) / (2 * width ** 2))
