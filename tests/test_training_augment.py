"""Augmentation: image and mask stay aligned, fills and seeds behave, batches are right."""

import numpy as np
import pytest

from ccdnb.classes import HOT_PIXEL, N_CLASSES
from ccdnb.normalize import normalize_image
from ccdnb.training.augment import (
    OPTION_DEFAULTS,
    AugmentedSequence,
    augment_pair,
    build_augmenter,
    one_hot,
    transform_gallery,
)

PEDESTAL = 1000.0
LINE_ADU = 400.0  # 200 sigma: bright or inverted, unmistakable after any gain and noise


def hot_line_scene(shape=(40, 56), seed=0):
    """Flat noisy image (sigma 2 ADU) with an L-shaped hot line, labelled hot pixel."""
    image = np.random.default_rng(seed).normal(PEDESTAL, 2.0, shape).astype(np.float32)
    label = np.zeros(shape, np.uint8)
    label[5:35, 13] = HOT_PIXEL    # a column segment
    label[30, 13:40] = HOT_PIXEL   # and a horizontal foot, so no symmetry hides a mismatch
    image[label == HOT_PIXEL] += LINE_ADU
    return image, label


def signal_pixels(image):
    """Pixels far (> 50 sigma) from the image's median, of either sign (inversion).

    NaN (area a transform uncovered: no measurement) is no signal.
    """
    with np.errstate(invalid="ignore"):
        return np.abs(image - np.nanmedian(image)) > 100.0


SINGLE_TRANSFORMS = {
    "flip": dict(flip=True),
    "rot90": dict(rot90=True),
    "affine": dict(affine=1.0, rotate=40.0, translate=0.15, scale=(0.8, 1.25)),
    "crop": dict(crop_size=(24, 30)),
    "invert": dict(invert=1.0),
    "gain": dict(gain=(0.3, 3.0)),
    "pedestal": dict(pedestal_shift=1000.0, row_drift=2.0),
    "noise": dict(noise=1.0),
}


@pytest.mark.parametrize("preset,options", [("none", o) for o in SINGLE_TRANSFORMS.values()]
                         + [("thesis", {}), ("default", {})],
                         ids=list(SINGLE_TRANSFORMS) + ["thesis", "default"])
def test_bright_pixels_are_exactly_the_labelled_ones(preset, options):
    image, label = hot_line_scene()
    augmenter = build_augmenter(preset, seed=11, **options)
    for _ in range(6):
        out, out_label = augment_pair(augmenter, image, label)
        assert out.dtype == np.float32 and out_label.dtype == np.uint8
        assert out.shape == out_label.shape
        np.testing.assert_array_equal(signal_pixels(out), out_label == HOT_PIXEL)


def test_exact_transforms_keep_the_line_whole():
    image, label = hot_line_scene()
    for options in (dict(flip=True), dict(rot90=True), dict(invert=1.0)):
        augmenter = build_augmenter("none", seed=2, **options)
        for _ in range(4):
            out, out_label = augment_pair(augmenter, image, label)
            assert (out_label == HOT_PIXEL).sum() == (label == HOT_PIXEL).sum()
            assert np.abs(out - np.median(out)).max() == pytest.approx(LINE_ADU, abs=15.0)


def test_uncovered_area_has_no_measurement_and_no_label():
    image, label = hot_line_scene()
    image += 20000.0  # a pedestal far from 0 ADU: a fill of 0 ADU would be a huge signal
    augmenter = build_augmenter("none", seed=3, affine=1.0, translate=0.4, rotate=30.0)
    for _ in range(4):
        out, out_label = augment_pair(augmenter, image, label)
        uncovered = np.isnan(out)
        assert uncovered.sum() > 0.05 * out.size and not out_label[uncovered].any()
        assert np.nanmin(out) > 20000.0 + PEDESTAL - 20.0   # every pixel left is a real one
        x = normalize_image(out)                             # NaN means 0 to the network
        assert np.isfinite(x).all() and not x[uncovered].any()


def test_inversion_flips_the_normalised_input_about_the_pedestal():
    image, label = hot_line_scene()
    images, labels = image[None], label[None]
    plain = AugmentedSequence(images, labels, batch_size=1, seed=0,
                              augmenter=build_augmenter("none", seed=0))[0][0]
    inverted = AugmentedSequence(images, labels, batch_size=1, seed=0,
                                 augmenter=build_augmenter("none", seed=0, invert=1.0))[0][0]
    np.testing.assert_allclose(inverted, -plain)
    line = label == HOT_PIXEL
    assert inverted[0, ..., 0][line].max() < -5.0 and abs(np.median(inverted[0, ..., 0])) < 0.2


def test_inversion_in_adu_for_the_gallery():
    image, label = hot_line_scene()
    gallery = dict((name, out) for name, out, _ in transform_gallery(image, label, seed=0))
    out = gallery["inversion"]
    line = label == HOT_PIXEL
    assert np.median(out[~line]) == pytest.approx(PEDESTAL, abs=0.5)
    assert np.median(out[line]) == pytest.approx(PEDESTAL - LINE_ADU, abs=3.0)


def test_noise_and_gain_change_the_noise_in_the_expected_direction():
    image, label = hot_line_scene(shape=(128, 128))
    quiet = label == 0
    noisier = build_augmenter("none", seed=4, noise=3.0)
    spreads = [augment_pair(noisier, image, label)[0][quiet].std() for _ in range(8)]
    assert min(spreads) >= 0.99 * image[quiet].std()
    assert max(spreads) > 1.5 * image[quiet].std()
    louder, _ = augment_pair(build_augmenter("none", seed=4, gain=(3.0, 3.0)), image, label)
    assert louder[quiet].std() == pytest.approx(3.0 * image[quiet].std(), rel=1e-3)


def test_same_seed_same_draws_other_seed_other_draws():
    image, label = hot_line_scene()
    runs = [[augment_pair(build_augmenter("default", seed=s), image, label)[0] for _ in range(3)]
            for s in (5, 5, 6)]
    for a, b in zip(runs[0], runs[1]):
        np.testing.assert_array_equal(a, b)
    assert any(a.shape != c.shape or not np.array_equal(a, c) for a, c in zip(runs[0], runs[2]))


def test_options_are_checked():
    assert "invert" in OPTION_DEFAULTS
    with pytest.raises(ValueError, match="unknown augmentation option"):
        build_augmenter("default", colour_jitter=1.0)
    with pytest.raises(ValueError, match="unknown augmentation preset"):
        build_augmenter("fancy")


def test_gallery_shows_each_transform_with_its_label():
    image, label = hot_line_scene()
    gallery = transform_gallery(image, label, seed=1)
    names = [name for name, _, _ in gallery]
    assert names[0] == "original" and "inversion" in names and "rotate 90" in names
    for name, out, out_label in gallery:
        np.testing.assert_array_equal(signal_pixels(out), out_label == HOT_PIXEL, err_msg=name)


def dataset(n=7, shape=(32, 48), seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(500.0, 3.0, (n, *shape)).astype(np.float32)
    labels = rng.choice(N_CLASSES, size=(n, *shape), p=[0.85, 0.05, 0.05, 0.05]).astype(np.uint8)
    images[labels == HOT_PIXEL] += 300.0
    return images, labels


def test_batches_have_the_network_shapes_and_one_hot_masks():
    images, labels = dataset()
    seq = AugmentedSequence(images, labels, batch_size=3, crop_size=16, seed=1,
                            augmenter=build_augmenter("default", seed=2))
    assert len(seq) == 3
    for index in range(len(seq)):
        x, y = seq[index]
        assert x.dtype == y.dtype == np.float32
        assert x.shape == (3 if index < 2 else 1, 16, 16, 1) and y.shape == x.shape[:3] + (4,)
        assert set(np.unique(y)) <= {0.0, 1.0} and np.all(y.sum(axis=-1) == 1.0)
        # the augmentation kept image and mask together: hot pixels are the bright ones
        np.testing.assert_array_equal(np.abs(x[..., 0]) > 2.5, y[..., HOT_PIXEL] == 1.0)
    with pytest.raises(IndexError):
        seq[len(seq)]


def test_validation_path_normalises_whole_images_in_order():
    images, labels = dataset()
    seq = AugmentedSequence(images, labels, batch_size=4, shuffle=False)
    x, y = seq[1]
    np.testing.assert_array_equal(x[..., 0], np.stack([normalize_image(i) for i in images[4:]]))
    np.testing.assert_array_equal(y, one_hot(labels[4:]))


def test_crops_are_windows_of_the_whole_normalised_image():
    images, labels = dataset(n=2)
    seq = AugmentedSequence(images, labels, batch_size=2, crop_size=(8, 12), shuffle=False,
                            seed=3)
    x, y = seq[0]
    for k in range(2):
        whole = normalize_image(images[k])
        hits = [(r, c) for r in range(32 - 8 + 1) for c in range(48 - 12 + 1)
                if np.array_equal(whole[r:r + 8, c:c + 12], x[k, ..., 0])]
        assert len(hits) == 1
        r, c = hits[0]
        np.testing.assert_array_equal(y[k].argmax(-1), labels[k, r:r + 8, c:c + 12])


def test_batches_depend_only_on_seed_epoch_and_index():
    images, labels = dataset()

    def make(seed):
        return AugmentedSequence(images, labels, batch_size=2, crop_size=16, seed=seed,
                                 steps_per_epoch=5, augmenter=build_augmenter("default", seed=0))

    a, b, c = make(1), make(1), make(2)
    assert len(a) == 5
    np.testing.assert_array_equal(a[3][0], b[3][0])
    np.testing.assert_array_equal(a[1][0], b[1][0])       # order of requests is irrelevant
    np.testing.assert_array_equal(a[3][0], b[3][0])
    assert not np.array_equal(a[3][0], c[3][0])
    first = a[0][0]
    a.on_epoch_end()
    assert a.epoch == 1 and not np.array_equal(a[0][0], first)
    b.on_epoch_end()
    np.testing.assert_array_equal(a[0][0], b[0][0])
    np.testing.assert_array_equal(c.batch(1, 4)[0], make(2).batch(1, 4)[0])  # at any epoch


def test_one_dataset_iterator_serves_epoch_after_epoch():
    """What model.fit reads (ccdnb.training.train.batches_dataset): batch k is batch
    k % n of epoch k // n, and the validation dataset replays its one epoch."""
    from ccdnb.training.train import batches_dataset

    images, labels = dataset()
    seq = AugmentedSequence(images, labels, batch_size=2, crop_size=16, seed=4,
                            steps_per_epoch=3, augmenter=build_augmenter("default", seed=0))
    batches = list(batches_dataset(seq, repeat=True).take(7).as_numpy_iterator())
    for k, (x, y) in enumerate(batches):
        want_x, want_y = seq.batch(k // 3, k % 3)
        np.testing.assert_array_equal(x, want_x)
        np.testing.assert_array_equal(y, want_y)
    assert not np.array_equal(batches[0][0], batches[3][0])  # a new epoch, new draws
    plain = AugmentedSequence(images, labels, batch_size=2, shuffle=False)
    validation = batches_dataset(plain)
    once = [x for x, _ in validation.as_numpy_iterator()]
    again = [x for x, _ in validation.as_numpy_iterator()]
    assert len(once) == len(plain) == 4  # 7 images, the last batch of one
    for x, y in zip(once, again):
        np.testing.assert_array_equal(x, y)


def test_bad_inputs_are_refused():
    images, labels = dataset(n=2)
    with pytest.raises(ValueError):
        AugmentedSequence(images, labels[:, :5], batch_size=1)
    with pytest.raises(ValueError):
        AugmentedSequence(images, labels + 4, batch_size=1)
    with pytest.raises(ValueError):
        AugmentedSequence(images, labels, batch_size=1, crop_size=64)


def test_keras_fit_consumes_the_sequence_and_advances_epochs():
    import keras

    images, labels = dataset(n=4, shape=(16, 16))
    seq = AugmentedSequence(images, labels, batch_size=2, steps_per_epoch=2, seed=0,
                            augmenter=build_augmenter("thesis", seed=0))
    model = keras.Sequential([keras.Input((None, None, 1)),
                              keras.layers.Conv2D(N_CLASSES, 1, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    history = model.fit(seq, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert seq.epoch >= 2  # Keras also calls on_epoch_end when it sets up the iterator


def test_figures_show_every_transform_and_the_input_differences():
    import matplotlib.pyplot as plt

    from ccdnb.plots.augment import (
        plot_network_batch,
        plot_normalization_invariance,
        plot_transform_gallery,
    )

    image, label = hot_line_scene()
    galleries = [transform_gallery(image, label, seed=s) for s in (0, 1)]
    fig = plot_transform_gallery(galleries)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 2 * len(galleries[0]) and titles[0].startswith("original")
    # Another gain and pedestal give the same network input; pure noise does not, and each
    # panel's title says by how much it differs from the first's.
    noise = np.random.default_rng(9).normal(PEDESTAL, 2.0, image.shape).astype(np.float32)
    variants = [("a", image), ("b", 30.0 * image + 5e3), ("noise", noise)]
    fig = plot_normalization_invariance(variants)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title().startswith("network input")]
    differences = [float(title.split("vs first ")[1]) for title in titles]
    first = normalize_image(image)
    expected = [np.abs(normalize_image(raw) - first).max() for _, raw in variants]
    np.testing.assert_allclose(differences, expected, rtol=0.06)
    assert differences[0] == 0.0 and differences[1] < 0.02 < 1.0 < differences[2]
    images, labels = dataset(n=3)
    x, y = AugmentedSequence(images, labels, batch_size=3)[0]
    fig = plot_network_batch(x, y)
    assert [ax.get_title() for ax in fig.axes[:3]] == ["input 0", "input 1", "input 2"]
    np.testing.assert_array_equal(fig.axes[3].images[0].get_array(), np.argmax(y[0], axis=-1))
    plt.close("all")
