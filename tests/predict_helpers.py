"""Small models and FITS files shared by the prediction tests (fast on a CPU)."""

import numpy as np

#: Receptive-field radius of :func:`local_conv_model` (three 3x3 convolutions).
LOCAL_RADIUS = 3


def local_conv_model(seed=0):
    """A fully convolutional 4-class softmax net whose outputs see only 3 pixels around.

    Untrained but seeded, so its outputs vary across the image and tiling errors show.
    """
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="tanh")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="tanh")(x)
    x = keras.layers.Conv2D(4, 3, padding="same")(x)
    outputs = keras.layers.Softmax()(x)
    return keras.Model(inputs, outputs, name="local_conv")


def detector_image(shape, seed=0, pedestal=1000.0, noise=5.0):
    """Pedestal plus Gaussian read noise, a hot column and a few bright dots (float32 ADU)."""
    rng = np.random.default_rng(seed)
    image = pedestal + rng.normal(0.0, noise, shape)
    image[:, shape[1] // 3] += 40 * noise
    for _ in range(max(1, shape[0] * shape[1] // 4000)):
        row, col = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        image[max(0, row - 1):row + 2, max(0, col - 1):col + 2] += 20 * noise
    return image.astype(np.float32)
