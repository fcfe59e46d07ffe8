"""Losses for per-pixel classification with very unequal classes, and optimizers by name.

Background is ~99 % of the pixels of a CCD image; an unweighted loss learns to
call everything background. The thesis weighted the categorical cross-entropy
by inverse class frequency (:func:`ccdnb.label.class_weights`). Two losses aimed
at thin, rare classes (one-pixel hot columns, faint clusters) are offered beside it:

``cce``
    plain categorical cross-entropy (the thesis's unweighted comparison).
``weighted_cce``
    ``-w_true log p_true`` averaged over pixels (the thesis's loss).
``focal``
    weighted focal loss (Lin et al. 2017): ``-w_true (1 - p_true)**gamma log p_true``,
    so well-classified background pixels stop dominating the gradient.
``dice_cce``
    weighted cross-entropy plus the soft Dice loss averaged over the four
    classes (Milletari et al. 2016): Dice scores each class by overlap,
    whatever its size, so a thin class counts as much as background.

All are registered Keras-serialisable objects and take probabilities
(the U-Net's softmax output) and one-hot targets.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from .classes import N_CLASSES

EPSILON = 1e-7
LOSSES = ("cce", "weighted_cce", "focal", "dice_cce")

#: Optimizer name -> (Keras class, default learning rate). Adadelta's is 1.0 as
#: in Keras 2 (the thesis's setting), not Keras 3's 0.001, with which it barely moves.
OPTIMIZERS = {
    "adadelta": (keras.optimizers.Adadelta, 1.0),
    "adam": (keras.optimizers.Adam, 1e-3),
    "adagrad": (keras.optimizers.Adagrad, 1e-2),
    "sgd": (keras.optimizers.SGD, 1e-2),
}


def inverse_frequency_weights(labels) -> np.ndarray:
    """The thesis's class weights: ``w_k`` proportional to ``1/freq_k``, ``sum(w) = 4``.

    Delegates to :func:`ccdnb.label.class_weights` (absent classes get 0).
    """
    from .label import class_weights

    return np.asarray(class_weights(labels), dtype=np.float64)


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


def make_loss(name, class_weights=None):
    """Return the loss called ``name`` (one of :data:`LOSSES`).

    Parameters
    ----------
    name : str
    class_weights : sequence of 4 floats, optional
        Used by every loss but ``cce``; equal weights when None.

    Raises
    ------
    ValueError
        For an unknown name.
    """
    if name == "cce":
        return WeightedCategoricalCrossentropy(None, name="cce")
    if name == "weighted_cce":
        return WeightedCategoricalCrossentropy(class_weights)
    if name == "focal":
        return WeightedFocalLoss(class_weights)
    if name == "dice_cce":
        return DiceCrossEntropy(class_weights)
    raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}")


def make_optimizer(name, learning_rate=None):
    """Return a fresh Keras optimizer by name.

    Parameters
    ----------
    name : {"adadelta", "adam", "adagrad", "sgd"}
    learning_rate : float, optional
        Default: 1.0 for adadelta (Keras 2's, the thesis's), 1e-3 for adam,
        1e-2 for adagrad and sgd.

    Raises
    ------
    ValueError
        For an unknown name.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    cls, default = OPTIMIZERS[name]
    return cls(learning_rate=default if learning_rate is None else float(learning_rate))

