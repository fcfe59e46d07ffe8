"""No signal lost: pixels at 5 sigma or more never end up as background."""

import numpy as np
import pytest

from ccdnb.classes import BACKGROUND, CLUSTER, GLOWING, HOT_PIXEL
from ccdnb.normalize import estimate_background, normalize_image
from ccdnb.predict.rules.signal_floor import (
    SIGNAL_SIGMA,
    best_signal_class,
    input_threshold,
    keep_significant_signal,
)


def background_only_model(favourite=HOT_PIXEL):
    """A 1x1-convolution net that calls every pixel background, ``favourite`` second."""
    import keras

    inputs = keras.Input((None, None, 1))
    logits = keras.layers.Conv2D(4, 1, use_bias=True, kernel_initializer="zeros")(inputs)
    model = keras.Model(inputs, keras.layers.Softmax()(logits))
    bias = np.full(4, -5.0, np.float32)
    bias[BACKGROUND], bias[favourite] = 5.0, 0.0
    model.layers[1].set_weights([np.zeros((1, 1, 1, 4), np.float32), bias])
    return model


def test_input_threshold_is_five_sigma_in_network_units():
    z = np.array([[4.99, 5.0, 5.01, 50.0]])
    u = np.arcsinh(z / 2.0)
    assert list(u[0] >= input_threshold()) == [False, True, True, True]


def test_best_signal_class_ignores_background():
    probs = np.array([[0.9, 0.02, 0.05, 0.03], [0.1, 0.5, 0.1, 0.3], [0.97, 0.0, 0.0, 0.03]])
    assert list(best_signal_class(probs)) == [HOT_PIXEL, GLOWING, CLUSTER]


def test_significant_background_pixels_take_the_best_signal_class_and_nothing_else_moves():
    rng = np.random.default_rng(0)
    image = 500.0 + rng.normal(0.0, 4.0, (64, 64))
    image[10, 10] += 30 * 4.0       # an isolated 30-sigma hit
    image[40, 20:23] += 8 * 4.0     # a faint 8-sigma serial hit
    u = normalize_image(image)
    mask = np.zeros(image.shape, np.uint8)
    mask[30, 30] = GLOWING          # the network's own decisions stay
    signal = np.full(image.shape, CLUSTER, np.uint8)
    out, changed = keep_significant_signal(mask.copy(), u, signal)
    assert out[10, 10] == CLUSTER and (out[40, 20:23] == CLUSTER).all()
    assert out[30, 30] == GLOWING
    assert changed == np.count_nonzero(out != mask) >= 4
    assert np.count_nonzero(out) - 1 == changed   # nothing else turned on


def test_lumps_of_a_wide_raised_region_are_kept_as_glow_and_objects_as_themselves():
    """A light leak's shot noise puts pixels over 5 sigma all over a raised region: the
    floor keeps them as glow. A small faint object, and a bright hit on the raised
    region, keep the network's signal class."""
    rng = np.random.default_rng(1)
    z = rng.normal(0.0, 1.0, (96, 96))
    z[:, 48:] += np.linspace(2.0, 7.0, 48)  # a wide excess rising to 7 sigma (a leak)
    z[20:23, 10:13] += 6.0           # a faint 3x3 object on the flat background
    z[70, 70] += 40.0                # a bright hit standing on the excess
    u = np.arcsinh(z / 2.0).astype(np.float32)
    signal = np.full(z.shape, CLUSTER, np.uint8)
    out, _ = keep_significant_signal(np.zeros(z.shape, np.uint8), u, signal)
    lumps = (z >= SIGNAL_SIGMA) & (out > 0)
    lumps[:, :48] = False
    lumps[67:74, 67:74] = False
    assert lumps.sum() > 500
    assert np.mean(out[lumps] == GLOWING) > 0.98  # a lump 3 sigma over its ring stays signal
    assert out[70, 70] == CLUSTER
    assert np.all(out[20:23, 10:13][z[20:23, 10:13] >= SIGNAL_SIGMA] == CLUSTER)


def test_predict_image_keeps_a_bright_hit_that_the_network_calls_background():
    from ccdnb.predict import predict_image

    rng = np.random.default_rng(1)
    image = (800.0 + rng.normal(0.0, 3.0, (96, 96))).astype(np.float32)
    image[50, 60] += 200 * 3.0
    model = background_only_model(favourite=CLUSTER)
    raw = predict_image(model, image, tile=32, margin=8, signal_floor=None)
    kept = predict_image(model, image, tile=32, margin=8)
    assert raw[50, 60] == BACKGROUND and kept[50, 60] == CLUSTER
    z = (image - 800.0) / 3.0
    assert not np.any((kept == BACKGROUND) & (z >= SIGNAL_SIGMA + 0.5))


def test_lone_faint_pixels_stay_unless_they_are_a_dark_current_population():
    """One electron of dark current in a skipper CCD: 5-7 sigma, alone, everywhere."""
    rng = np.random.default_rng(2)
    image = 500.0 + rng.normal(0.0, 1.0, (128, 128))
    image[20, 20] += 6.5          # a lone faint event at 6.5 sigma
    image[40, 40] += 12.0         # a lone isolated hit at 12 sigma
    image[50, 10:12] += 8.0       # two neighbouring 8-sigma pixels: a small event
    signal = np.full(image.shape, CLUSTER, np.uint8)
    out, _ = keep_significant_signal(np.zeros(image.shape, np.uint8), normalize_image(image),
                                     signal)
    assert out[20, 20] == CLUSTER and out[40, 40] == CLUSTER and (out[50, 10:12] == CLUSTER).all()

    # The same with 1 % of the pixels holding one electron (6.5 sigma): the image now
    # resolves electrons, and the floor counts them. The field's electrons, and groups
    # of one-electron pixels that such a field makes by chance, are the network's call;
    # three electrons in a pixel (a chance of 2e-7 per pixel here) are kept.
    dark = image.copy()
    electrons = rng.random(image.shape) < 0.01
    dark[electrons] += 6.5
    dark[20, 20] = image[20, 20]
    dark[40, 40] = 500.0 + 3 * 6.5
    dark[60, 30:32] = 500.0 + np.array([3, 4]) * 6.5
    out, _ = keep_significant_signal(np.zeros(image.shape, np.uint8), normalize_image(dark),
                                     signal)
    assert out[40, 40] == CLUSTER and (out[60, 30:32] == CLUSTER).all()
    assert out[20, 20] == BACKGROUND and np.mean(out[electrons] == CLUSTER) < 0.01


def test_a_dense_single_electron_field_is_left_to_the_network():
    """A DAMIC-M skipper frame: 0.2 e- noise, 1.5 e-/pixel rising along the readout.

    Most pixels hold an electron and have a neighbour holding one: by the design's
    convention that field is background, so the floor does not force it to a signal
    class; a pixel of 15 electrons (no chance in that field) is kept."""
    from ccdnb.electron_field import measure_electron_field
    from ccdnb.normalize import network_input
    from ccdnb.predict.rules.signal_floor import electron_comb

    rng = np.random.default_rng(5)
    rate = np.linspace(0.8, 2.2, 200)[:, None] * np.ones((200, 300))
    gain, noise = 1.35, 0.2 * 1.35
    image = 3000.0 + gain * rng.poisson(rate) + rng.normal(0.0, noise, rate.shape)
    image[100, 150] += 15 * gain
    background = estimate_background(image)
    # on read-noise significance the comb of electron peaks shows, one gain apart
    z = (image - background.pedestal[:, None]) / background.noise
    comb = electron_comb(z)
    assert comb is not None
    assert comb[0] * background.noise == pytest.approx(gain, rel=0.03)
    # the network's input is the significance over the field; the floor counts electrons
    field = measure_electron_field(image, background)
    assert field is not None
    x = normalize_image(image, background, field)
    signal = np.full(image.shape, CLUSTER, np.uint8)
    out, _ = keep_significant_signal(np.zeros(image.shape, np.uint8), x, signal,
                                     row_floor=network_input(field.signal_floor(background.noise)))
    assert out[100, 150] == CLUSTER
    assert np.mean(out == CLUSTER) < 1e-3
    # without the field's floor, the 5-sigma floor alone still keeps the bright pixel
    out, _ = keep_significant_signal(np.zeros(image.shape, np.uint8), x, signal)
    assert out[100, 150] == CLUSTER


def test_conventional_images_show_no_electron_comb():
    from ccdnb.predict.rules.signal_floor import electron_comb
    from ccdnb.simulation import simulate_image

    for preset in ("damic", "dense", "thesis-balanced", "fe55"):
        sim = simulate_image(preset, (256, 256), 4)
        assert electron_comb(np.sinh(normalize_image(sim.image)) * 2.0) is None, preset


def test_has_neighbour_agrees_with_the_whole_frame_count():
    from ccdnb.objects.groups import count_neighbours
    from ccdnb.predict.rules.signal_floor import has_neighbour

    rng = np.random.default_rng(1)
    for density in (0.001, 0.05, 0.5):
        flags = rng.random((60, 90)) < density
        flags[0, :3] = flags[-1, -1] = True  # the border has no pixel beyond it
        where = np.nonzero(rng.random(flags.shape) < 0.3)
        where = (np.append(where[0], [0, 59]), np.append(where[1], [1, 89]))
        np.testing.assert_array_equal(has_neighbour(flags, where),
                                      count_neighbours(flags)[where] > 0)
