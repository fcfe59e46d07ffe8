"""The single-electron field of a skipper image is background, measured in its own noise."""

import numpy as np
import pytest
from scipy import ndimage

from ccdnb.classes import BACKGROUND, CLUSTER, HOT_PIXEL
from ccdnb.electron_field import measure_electron_field
from ccdnb.normalize import estimate_background, normalize_image, standardize_image


def skipper_image(rate, gain=1.35, noise_e=0.2, seed=5, pedestal=3000.0):
    """Pedestal + gain * Poisson(rate) + Gaussian read noise (ADU)."""
    rng = np.random.default_rng(seed)
    rate = np.asarray(rate, dtype=float)
    return pedestal + gain * rng.poisson(rate) + rng.normal(0.0, noise_e * gain, rate.shape)


def rising_rate(low=0.5, high=1.7, shape=(240, 320)):
    """A field rising along the readout (rows), flat along each row."""
    return np.linspace(low, high, shape[0])[:, None] * np.ones(shape)


def test_a_dense_rising_field_is_measured_row_by_row():
    rate = rising_rate()
    image = skipper_image(rate)
    field = measure_electron_field(image, estimate_background(image))
    assert field is not None
    assert field.gain == pytest.approx(1.35, rel=0.01)
    assert field.noise_e == pytest.approx(0.2, rel=0.1)
    # the measured rate follows the true one along the readout (a few per cent)
    inner = slice(20, -20)
    assert np.allclose(field.rate[inner], rate[inner, 0], rtol=0.08)


def test_the_field_becomes_unit_noise_and_a_cluster_stands_above_it():
    rate = rising_rate()
    image = skipper_image(rate)
    image[120, 100:103] += 1.35 * np.array([8, 12, 8])  # a 28-electron cluster
    z = standardize_image(image)
    field_pixels = np.ones(image.shape, bool)
    field_pixels[119:122, 99:104] = False
    assert abs(float(np.mean(z[field_pixels]))) < 0.05
    assert float(np.std(z[field_pixels])) == pytest.approx(1.0, rel=0.08)
    # 12 electrons over ~1.1 e-/pixel: (12 + 1.1 - 1.1) / sqrt(0.04 + 1.1) ~ 11 sigma
    assert z[120, 101] > 8.0
    # on read-noise significance a third or more of the field stood above 5 sigma
    background = estimate_background(image)
    plain = standardize_image(image, background, field=None)
    assert np.mean(plain[field_pixels] > 5.0) > 0.3
    assert np.mean(z[field_pixels] > 5.0) < 1e-3


def test_a_sparse_field_keeps_the_read_noise_significance():
    rate = np.full((200, 256), 2e-3)
    image = skipper_image(rate, noise_e=0.15, seed=2)
    background = estimate_background(image)
    field = measure_electron_field(image, background)
    assert field is not None
    assert not field.dense
    # the field counts for the floor, but the network reads the read-noise significance
    assert np.array_equal(standardize_image(image, background, field),
                          standardize_image(image, background, field=None), equal_nan=True)
    assert field.signal_floor(background.noise).min() > 9.0  # 2 electrons at 0.15 e- of noise


def test_the_floor_is_in_the_units_the_network_reads():
    """Below the dense rate the network reads read-noise sigma, and so does the floor.

    At 0.03 e-/pixel the field puts 3 electrons in a pixel more often than once in
    a million, and 4 less often: a 3-electron pixel stays under the floor and a
    4-electron one stands over it, in the significance the network is given."""
    rng = np.random.default_rng(11)
    gain, noise_e = 1.35, 0.15
    counts = rng.poisson(0.03, (300, 320))
    counts[50:250:20, 100] = 3
    counts[50:250:20, 200] = 4
    image = 3000.0 + gain * counts + rng.normal(0.0, noise_e * gain, counts.shape)
    background = estimate_background(image)
    field = measure_electron_field(image, background)
    assert field is not None and not field.dense
    z = standardize_image(image, background, field)
    floor = field.signal_floor(background.noise)[:, None]
    rows = np.arange(50, 250, 20)
    assert np.all(z[rows, 100] < floor[rows, 0])
    assert np.all(z[rows, 200] > floor[rows, 0])


@pytest.mark.parametrize("preset", ["damic", "fe55", "glow-events", "dense", "thesis"])
def test_conventional_ccds_have_no_electron_field(preset):
    from ccdnb.simulation import simulate_dataset

    data = simulate_dataset(preset, 6, (256, 256), 11)
    for image in data.images:
        assert measure_electron_field(image, estimate_background(image)) is None
        # and their input is the read-noise significance, as before
        assert np.array_equal(standardize_image(image),
                              standardize_image(image, field=None), equal_nan=True)


def test_two_baseline_levels_are_not_an_electron_field():
    """Two flat levels 3.5 read-noise sigma apart (a baseline step of a conventional
    CCD) make a two-tooth comb, but not in Poisson proportions."""
    rng = np.random.default_rng(3)
    image = rng.normal(1000.0, 10.0, (256, 256))
    image[:, 40:] += 35.0
    assert measure_electron_field(image, estimate_background(image)) is None


def test_flat_glow_levels_one_step_apart_are_not_an_electron_field():
    """Glow over half the rows and a band, 20 and 40 sigma: levels in steps, like a comb,
    but each row's pixels sit at one or two levels instead of scattering as Poisson counts."""
    rng = np.random.default_rng(12)
    image = 800.0 + rng.normal(0.0, 3.0, (200, 160))
    image[:100] += 120.0
    image[:, 100:] += 60.0
    assert measure_electron_field(image, estimate_background(image)) is None


def test_the_input_is_independent_of_gain_and_pedestal():
    image = skipper_image(rising_rate())
    a, b = normalize_image(image), normalize_image(3.7 * image - 1234.5)
    assert np.allclose(a, b, atol=2e-3)


def test_groups_of_field_electrons_are_released_and_clusters_kept():
    rate = np.full((128, 128), 0.01)
    image = skipper_image(rate, noise_e=0.1, seed=8)
    image[64, 64:66] += 1.35 * np.array([4.0, 3.0])  # a 7-electron cluster
    background = estimate_background(image)
    field = measure_electron_field(image, background)
    assert field is not None
    electrons = field.electrons(image, background.pedestal)
    # every electron of the field, with a neighbour, predicted cluster: the halo
    # of single electrons that the network paints on a sparse field
    single = (np.rint(electrons) == 1)
    mask = np.zeros(image.shape, np.uint8)
    rows, cols = np.nonzero(single)
    mask[rows, cols] = CLUSTER
    mask[rows, np.minimum(cols + 1, 127)] = CLUSTER
    mask[64, 63:67] = CLUSTER
    mask[10, 10] = HOT_PIXEL  # a hot pixel with no charge at all
    released = field.release_chance_groups(mask, electrons)
    assert released > 0
    assert mask[10, 10] == BACKGROUND
    assert np.all(mask[64, 64:66] == CLUSTER)
    # nothing else stays cluster (but field electrons touching the cluster's group)
    groups, _ = ndimage.label(mask == CLUSTER, structure=np.ones((3, 3), bool))
    assert set(np.unique(groups[mask == CLUSTER])) == {groups[64, 64]}


def test_the_floor_counts_electrons():
    image = skipper_image(rising_rate())
    background = estimate_background(image)
    field = measure_electron_field(image, background)
    floor = field.signal_floor(background.noise)
    # at 0.5-1.7 e-/pixel the field puts 8-10 electrons in one pixel in a million:
    # the floor sits between 6 and 10 of the field's sigma
    assert np.all((floor > 6.0) & (floor < 10.0))


def test_a_hot_pixel_keeps_none_of_the_field_around_it():
    """A bright pixel drawn as a cluster with its field neighbours is a one-pixel object;
    a cluster whose other pixels hold more than the field gives is kept whole."""
    rate = rising_rate(1.0, 1.5)
    rng = np.random.default_rng(8)
    counts = rng.poisson(rate)
    counts[60, 60] = 480  # a hot pixel; its neighbours hold the field's electrons
    counts[60, 61] = 1
    counts[61, 60] = 2
    counts[150:153, 150:153] = [[3, 6, 2], [7, 30, 8], [2, 5, 3]]  # a deposit
    gain = 1.35
    image = 3000.0 + gain * counts + rng.normal(0.0, 0.2 * gain, counts.shape)
    field = measure_electron_field(image, estimate_background(image))
    assert field is not None and field.dense
    mask = np.zeros(image.shape, np.uint8)
    mask[60:62, 60:62] = CLUSTER
    mask[150:153, 150:153] = CLUSTER
    electrons = field.electrons(image, estimate_background(image).pedestal)
    released = field.release_chance_neighbours(mask, electrons)
    assert released == 3
    assert mask[60, 60] == CLUSTER
    assert np.count_nonzero(mask[55:66, 55:66]) == 1
    assert np.all(mask[150:153, 150:153] == CLUSTER)
