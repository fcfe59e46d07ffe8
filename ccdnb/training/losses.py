"""Losses for per-pixel classification with very unequal classes, and optimizers by name.

Background is ~99 % of the pixels of a CCD image; an unweighted loss learns to
call everything background. The thesis weighted the categorical cross-entropy
by inverse class frequency (:func:`ccdnb.classes.class_weights`). Two losses aimed
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

The loss classes are registered Keras-serialisable objects defined in
:mod:`ccdnb.model_losses` (beside the model, so that loading a model needs no
training code); they take probabilities and one-hot targets.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LOSSES", "OPTIMIZERS", "DiceCrossEntropy", "WeightedCategoricalCrossentropy",  # noqa: F822
           "WeightedFocalLoss", "inverse_frequency_weights", "make_loss", "make_optimizer"]

LOSSES = ("cce", "weighted_cce", "focal", "dice_cce")

#: Optimizer name -> (Keras class, default learning rate). Adadelta's is 1.0 as
#: in Keras 2 (the thesis's setting), not Keras 3's 0.001, with which it barely moves.
#: Keras is imported only when an optimizer or loss is made: the names alone (for
#: checking a command line) cost nothing.
OPTIMIZERS = {
    "adadelta": ("Adadelta", 1.0),
    "adam": ("Adam", 1e-3),
    "adagrad": ("Adagrad", 1e-2),
    "sgd": ("SGD", 1e-2),
}

_LOSS_CLASSES = ("DiceCrossEntropy", "WeightedCategoricalCrossentropy", "WeightedFocalLoss")


def __getattr__(name):
    if name in _LOSS_CLASSES:  # the Keras loss classes, imported on first use
        from .. import model_losses

        return getattr(model_losses, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def inverse_frequency_weights(labels, power=1.0) -> np.ndarray:
    """Class weights ``w_k`` proportional to ``(1/freq_k) ** power``, ``sum(w) = 4``.

    ``power=1`` is the thesis's inverse frequency (delegates to
    :func:`ccdnb.classes.class_weights`; absent classes get 0); ``power=0.5``
    softens it (square root), ``power=0`` gives equal weights.
    """
    from ..classes import class_weights

    weights = np.asarray(class_weights(labels), dtype=np.float64)
    if power == 1.0:
        return weights
    present = weights > 0
    weights[present] = weights[present] ** float(power)
    return weights * (len(weights) / weights.sum()) if weights.sum() > 0 else weights


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
    from ..model_losses import DiceCrossEntropy, WeightedCategoricalCrossentropy, WeightedFocalLoss

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
    import keras

    class_name, default = OPTIMIZERS[name]
    return getattr(keras.optimizers, class_name)(
        learning_rate=default if learning_rate is None else float(learning_rate))

