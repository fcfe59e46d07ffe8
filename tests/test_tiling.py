"""Tiling and tiled prediction: seamless, any size, bounded batches."""

import numpy as np
import pytest
from predict_helpers import LOCAL_RADIUS, detector_image, local_conv_model

from ccdnb.errors import CcdnbInputError
from ccdnb.normalize import normalize_image
from ccdnb.predict import predict_image
from ccdnb.predict.tiling import TileGrid, iter_tile_batches, stitch

TILE, MARGIN = 64, 8


@pytest.fixture(scope="module")
def model():
    return local_conv_model(seed=1)


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (48, 48), (64, 64), (65, 130), (517, 1031)])
def test_stitching_tile_centres_rebuilds_any_image(shape):
    # The identity "model": stitching the tiles' own centres must give back the image,
    # so every pixel is covered once by a centre that came from its own position.
    image = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    grid = TileGrid.for_image(shape, TILE, MARGIN)
    out = np.full(shape, np.nan, dtype=np.float32)
    for origins, tiles in iter_tile_batches(grid.pad(image), grid, batch_size=7):
        assert tiles.shape[1:] == (TILE, TILE) and len(tiles) <= 7
        stitch(out, grid, origins, tiles)
    np.testing.assert_array_equal(out, image)


def test_batches_stream_every_tile_once_and_stay_bounded():
    grid = TileGrid.for_image((517, 1031), TILE, MARGIN)
    padded = grid.pad(np.zeros((517, 1031), np.float32))
    sizes, seen = [], []
    for origins, tiles in iter_tile_batches(padded, grid, batch_size=8):
        sizes.append(len(tiles))
        seen.extend(origins)
    assert max(sizes) == 8 and sum(sizes) == len(grid) == len(set(seen))


@pytest.mark.parametrize("tile, margin", [(16, 8), (10, 6), (64, -1)])
def test_tile_not_larger_than_margins_is_an_input_error(tile, margin):
    with pytest.raises(CcdnbInputError, match="tile"):
        TileGrid.for_image((100, 100), tile, margin)


@pytest.mark.parametrize("shape", [(517, 1031), (40, 23)])
def test_tiled_prediction_equals_whole_image_prediction_away_from_border(model, shape):
    image = detector_image(shape, seed=3)
    # The network's own mask (no significance floor): tiling alone is under test.
    mask, probs = predict_image(model, image, tile=TILE, margin=MARGIN, batch_size=16,
                                probabilities=True, signal_floor=None)
    whole = model.predict_on_batch(normalize_image(image)[None, ..., None])[0]
    # Tiles pad by reflection, the whole-image net by zeros: they may differ only
    # within the receptive field of the image border.
    inner = (slice(LOCAL_RADIUS, -LOCAL_RADIUS),) * 2
    np.testing.assert_allclose(probs[inner], whole[inner], atol=1e-5)
    agree = mask[inner] == np.argmax(whole[inner], axis=-1)
    near_tie = np.sort(whole[inner], axis=-1)[..., -1] - np.sort(whole[inner], axis=-1)[..., -2]
    assert np.all(agree | (near_tie < 1e-5))
    assert mask.dtype == np.uint8 and mask.shape == shape
    np.testing.assert_array_equal(mask, np.argmax(probs, axis=-1))
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=1e-5)


def test_prediction_does_not_depend_on_tile_size_or_batch(model):
    image = detector_image((150, 170), seed=4)
    small = predict_image(model, image, tile=32, margin=8, batch_size=3)
    large = predict_image(model, image, tile=96, margin=16, batch_size=1)
    assert np.mean(small == large) > 0.999


def test_nonfinite_pixels_are_background_and_reported_progress_reaches_total(model):
    image = detector_image((70, 90), seed=5)
    image[3, 4], image[50, 60] = np.nan, np.inf
    calls = []
    mask, probs = predict_image(model, image, tile=TILE, margin=MARGIN, probabilities=True,
                                progress=lambda done, total: calls.append((done, total)))
    assert mask[3, 4] == 0 and mask[50, 60] == 0
    np.testing.assert_array_equal(probs[3, 4], [1, 0, 0, 0])
    assert np.isfinite(probs).all()
    assert calls[-1][0] == calls[-1][1] == len(TileGrid.for_image(image.shape, TILE, MARGIN))


def test_tile_size_the_model_cannot_take_is_an_input_error():
    import keras

    inputs = keras.Input((None, None, 1))
    down = keras.layers.MaxPooling2D(4)(keras.layers.Conv2D(2, 3, padding="same")(inputs))
    up = keras.layers.UpSampling2D(4)(down)
    merged = keras.layers.Concatenate()([inputs, up])  # needs sides divisible by 4
    pooled = keras.Model(inputs, keras.layers.Conv2D(4, 1, activation="softmax")(merged))
    image = detector_image((50, 50), seed=6)
    with pytest.raises(CcdnbInputError, match="30x30 tiles"):
        predict_image(pooled, image, tile=30, margin=4)
    assert predict_image(pooled, image, tile=32, margin=4).shape == (50, 50)


def test_auto_tile_wastes_less_than_fixed_tiles_and_fits_the_network():
    from ccdnb.predict.tiling import MAX_AUTO_TILE, TILE_UNIT, auto_tile

    def computed(shape, tile, margin=32):
        return len(TileGrid.for_image(shape, tile, margin)) * tile * tile

    for shape in [(256, 256), (1024, 1024), (4096, 4096), (4096, 6144), (100, 3000), (7, 9)]:
        tile = auto_tile(shape, 32)
        assert tile % TILE_UNIT == 0 and 64 < tile <= MAX_AUTO_TILE
        assert computed(shape, tile) <= computed(shape, 256)
    # a full frame: far less recomputed overlap than 256-pixel tiles (56 % kept)
    tile = auto_tile((4096, 4096), 32)
    assert (4096 * 4096) / computed((4096, 4096), tile) > 0.7
    assert TileGrid.for_image((300, 300), None, 32).tile == auto_tile((300, 300), 32)
