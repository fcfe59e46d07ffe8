"""Losses (registered beside the model, ccdnb.model_losses) and optimizers by name."""

import keras
import numpy as np
import pytest

from ccdnb.training.losses import (
    DiceCrossEntropy,
    WeightedCategoricalCrossentropy,
    WeightedFocalLoss,
    make_loss,
    make_optimizer,
)

# Two pixels of one 1x2 image: true classes 0 and 3.
Y_TRUE = np.array([[[[1, 0, 0, 0], [0, 0, 0, 1]]]], dtype="float32")
Y_PRED = np.array([[[[0.7, 0.1, 0.1, 0.1], [0.2, 0.2, 0.2, 0.4]]]], dtype="float32")
WEIGHTS = [0.5, 1.0, 1.5, 1.0]


def _value(loss, y_true=Y_TRUE, y_pred=Y_PRED):
    return float(keras.ops.convert_to_numpy(loss(y_true, y_pred)))


def test_weighted_cross_entropy_equals_a_hand_computation():
    expected = (-0.5 * np.log(0.7) - 1.0 * np.log(0.4)) / 2
    assert _value(WeightedCategoricalCrossentropy(WEIGHTS)) == pytest.approx(expected, rel=1e-5)
    plain = (-np.log(0.7) - np.log(0.4)) / 2
    assert _value(make_loss("cce")) == pytest.approx(plain, rel=1e-5)


def test_focal_and_dice_losses():
    assert _value(WeightedFocalLoss(WEIGHTS, gamma=0.0)) == pytest.approx(
        _value(WeightedCategoricalCrossentropy(WEIGHTS)), rel=1e-6)
    focal = (-0.5 * 0.3**2 * np.log(0.7) - 1.0 * 0.6**2 * np.log(0.4)) / 2
    assert _value(WeightedFocalLoss(WEIGHTS, gamma=2.0)) == pytest.approx(focal, rel=1e-5)
    # a perfect prediction: cross-entropy ~0 and Dice 0
    assert _value(DiceCrossEntropy(WEIGHTS), Y_TRUE, Y_TRUE) == pytest.approx(0.0, abs=1e-5)
    assert _value(DiceCrossEntropy(WEIGHTS)) > _value(WeightedCategoricalCrossentropy(WEIGHTS))


@pytest.mark.parametrize("name", ["weighted_cce", "focal", "dice_cce"])
def test_losses_survive_serialisation(name):
    loss = make_loss(name, WEIGHTS)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(again) is type(loss) and again.class_weights == WEIGHTS
    assert _value(again) == pytest.approx(_value(loss))


def test_optimizers_by_name():
    assert float(make_optimizer("adadelta").learning_rate) == pytest.approx(1.0)
    assert float(make_optimizer("sgd", 0.5).learning_rate) == pytest.approx(0.5)
    assert isinstance(make_optimizer("adagrad"), keras.optimizers.Adagrad)
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("rmsprop")
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss("hinge")


def test_softened_class_weights_keep_the_order_and_the_sum():
    from ccdnb.training.losses import inverse_frequency_weights

    labels = np.zeros((1, 100, 100), np.uint8)
    labels[0, :10] = 1                   # 10 % glowing
    labels[0, 10:11] = 2                 # 1 % hot pixel
    labels[0, 11:14] = 3                 # 3 % cluster
    full = inverse_frequency_weights(labels)
    soft = inverse_frequency_weights(labels, 0.5)
    flat = inverse_frequency_weights(labels, 0.0)
    for w in (full, soft, flat):
        assert w.sum() == pytest.approx(4.0)
    assert list(np.argsort(soft)) == list(np.argsort(full))
    assert soft.max() / soft.min() == pytest.approx(np.sqrt(full.max() / full.min()))
    np.testing.assert_allclose(flat, 1.0)
