"""The class-weighted losses a saved ccdnb model may name, registered with Keras.

They live beside the model (not in :mod:`ccdnb.training`) so that loading a
model never needs the training code: :func:`ccdnb.model.load_model` imports this
module, which registers the classes under the package name ``ccdnb``. How they
are chosen by name, and the optimizers, are in :mod:`ccdnb.training.losses`.

All take probabilities (the U-Net's softmax output) and one-hot targets.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from .classes import N_CLASSES

__all__ = ["EPSILON", "WeightedCategoricalCrossentropy", "WeightedFocalLoss", "DiceCrossEntropy"]

EPSILON = 1e-7


def _weights_tensor(class_weights, dtype):
    return ops.convert_to_tensor(np.asarray(class_weights, dtype=np.float32), dtype=dtype)


def _clipped_probabilities(y_pred):
    y_pred = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
    return ops.clip(y_pred, EPSILON, 1.0 - EPSILON)


class _ClassWeightedLoss(keras.losses.Loss):
    """Base of the losses with one weight per class (equal weights when none are given)."""

    def __init__(self, class_weights=None, name=None, reduction="sum_over_batch_size",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        weights = np.ones(N_CLASSES) if class_weights is None else np.asarray(class_weights)
        if weights.shape != (N_CLASSES,):
            raise ValueError(f"class_weights must have {N_CLASSES} values, got {weights.shape}")
        self.class_weights = [float(w) for w in weights]

    def get_config(self):
        return {**super().get_config(), "class_weights": self.class_weights}

    def _pixel_weights(self, y_true):
        """Weight of each pixel's true class, shape (B, H, W)."""
        return ops.sum(y_true * _weights_tensor(self.class_weights, y_true.dtype), axis=-1)


@keras.saving.register_keras_serializable(package="ccdnb")
class WeightedCategoricalCrossentropy(_ClassWeightedLoss):
    """Categorical cross-entropy with each pixel weighted by its true class.

    ``loss = mean over pixels of -w[true] * log(p[true])``, probabilities
    renormalised and clipped to ``[1e-7, 1 - 1e-7]`` as Keras does.

    Parameters
    ----------
    class_weights : sequence of 4 floats, optional
        Per-class weights (all 1: the plain cross-entropy).
    """

    def __init__(self, class_weights=None, name="weighted_cce", **kwargs):
        super().__init__(class_weights, name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        log_p = ops.log(_clipped_probabilities(y_pred))
        return -ops.sum(y_true * log_p, axis=-1) * self._pixel_weights(y_true)


@keras.saving.register_keras_serializable(package="ccdnb")
class WeightedFocalLoss(_ClassWeightedLoss):
    """Focal loss ``-w[true] * (1 - p[true])**gamma * log(p[true])`` per pixel.

    Parameters
    ----------
    class_weights : sequence of 4 floats, optional
    gamma : float
        Focusing exponent; 0 gives :class:`WeightedCategoricalCrossentropy`.
    """

    def __init__(self, class_weights=None, gamma=2.0, name="focal", **kwargs):
        super().__init__(class_weights, name=name, **kwargs)
        self.gamma = float(gamma)

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma}

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        p_true = ops.sum(y_true * _clipped_probabilities(y_pred), axis=-1)
        focus = ops.power(1.0 - p_true, self.gamma)
        return -focus * ops.log(p_true) * self._pixel_weights(y_true)


@keras.saving.register_keras_serializable(package="ccdnb")
class DiceCrossEntropy(_ClassWeightedLoss):
    """Weighted cross-entropy plus ``dice_weight`` times the soft Dice loss.

    The Dice term is ``1 - mean_k (2 sum(y_k p_k) + 1) / (sum(y_k) + sum(p_k) + 1)``
    per image (the +1 keeps a class absent from truth and prediction at a
    perfect score), spread evenly over the image's pixels so that the total is
    a per-pixel mean like the cross-entropy.

    Parameters
    ----------
    class_weights : sequence of 4 floats, optional
        Weights of the cross-entropy term.
    dice_weight : float
    """

    def __init__(self, class_weights=None, dice_weight=1.0, name="dice_cce", **kwargs):
        super().__init__(class_weights, name=name, **kwargs)
        self.dice_weight = float(dice_weight)

    def get_config(self):
        return {**super().get_config(), "dice_weight": self.dice_weight}

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        probs = _clipped_probabilities(y_pred)
        cross_entropy = -ops.sum(y_true * ops.log(probs), axis=-1) * self._pixel_weights(y_true)
        spatial = (1, 2)
        overlap = ops.sum(y_true * probs, axis=spatial)
        total = ops.sum(y_true, axis=spatial) + ops.sum(probs, axis=spatial)
        dice = 1.0 - ops.mean((2.0 * overlap + 1.0) / (total + 1.0), axis=-1)  # (B,)
        return cross_entropy + self.dice_weight * dice[:, None, None]
