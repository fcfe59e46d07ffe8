"""Class factors: the network's decision boundary between classes, set apart from training.

A U-Net trained with a class-weighted loss learns probabilities scaled by those
weights (the weighted cross-entropy's optimum is ``p_c`` proportional to
``w_c q_c``), and six fine-tunes of the default network (issue 33,
``docs/ablation.md``) showed the boundary between glowing and background moving
with the weights within a few dozen steps while what the network sees stays the
same. Class factors put that boundary back where it serves best: each class's
probability is multiplied by its factor and the four renormalised,

    p'_c = f_c p_c / sum_k f_k p_k,

so the mask's class is ``argmax_c f_c p_c``. The factors are fitted on validation
images that neither training nor the held-out evaluation uses
(:func:`ccdnb.training.class_factors.fit_class_factors`, ``ccdnb class-factors``),
stored in the model card under ``class_factors`` and applied to every batch the
engine returns (:class:`FactoredPredictor`, through
:func:`ccdnb.predict.runtime.load_predictor`), so every stage after the network,
the probabilities written with ``--probabilities`` included, sees the factored
probabilities. The masks header records them (``CCDNBCF``).
"""

from __future__ import annotations

import math

import numpy as np

from ..classes import N_CLASSES
from ..errors import CcdnbInputError

__all__ = ["CARD_KEY", "class_factors_from_card", "apply_class_factors", "FactoredPredictor",
           "format_factors"]

#: The model card's key holding the four factors (background, glowing, hot pixel, cluster).
CARD_KEY = "class_factors"


def class_factors_from_card(card: dict) -> np.ndarray | None:
    """The class factors a model card holds, or None when it holds none.

    Parameters
    ----------
    card : dict
        A model card (:func:`ccdnb.model.model_card`). ``card["class_factors"]`` is a list
        of four positive numbers, or a dict whose ``"factors"`` is (the fit's record).

    Returns
    -------
    ndarray of float32, shape (4,), or None

    Raises
    ------
    CcdnbInputError
        Factors that are not four positive finite numbers.
    """
    entry = (card or {}).get(CARD_KEY)
    if entry is None:
        return None
    values = entry.get("factors") if isinstance(entry, dict) else entry
    try:
        factors = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        factors = np.empty(0)
    if factors.shape != (N_CLASSES,) or not np.all(np.isfinite(factors)) \
            or not np.all(factors > 0):
        raise CcdnbInputError(f"the model card's {CARD_KEY} must be {N_CLASSES} positive "
                              f"numbers, got {values!r}")
    return factors.astype(np.float32)


def apply_class_factors(probabilities, factors) -> np.ndarray:
    """Multiply class probabilities by ``factors`` and renormalise (in place for float32).

    Parameters
    ----------
    probabilities : ndarray, shape (..., 4)
    factors : array_like, shape (4,)

    Returns
    -------
    ndarray of float32, shape (..., 4)
        Sums to 1 over the last axis where the input's factored sum is positive.
    """
    p = np.asarray(probabilities, dtype=np.float32)
    p *= np.asarray(factors, dtype=np.float32)
    total = p.sum(axis=-1, keepdims=True)
    np.divide(p, total, out=p, where=total > 0)
    return p


class FactoredPredictor:
    """An engine whose outputs are multiplied by class factors and renormalised.

    Everything else (``runtime``, ``precision_used``, ``any_batch_size``,
    ``max_auto_tile`` ...) is the wrapped engine's.

    Parameters
    ----------
    predictor : object
        Anything with ``predict_on_batch`` returning (B, H, W, 4) probabilities.
    factors : array_like, shape (4,)
    """

    def __init__(self, predictor, factors):
        self.predictor = predictor
        self.class_factors = np.asarray(factors, dtype=np.float32)

    def predict_on_batch(self, x):
        out = np.array(self.predictor.predict_on_batch(x), dtype=np.float32)
        return apply_class_factors(out, self.class_factors)

    def __getattr__(self, name):
        # only reached for names this wrapper does not define
        if name == "predictor":
            raise AttributeError(name)
        return getattr(self.predictor, name)

    def __repr__(self) -> str:
        return f"FactoredPredictor({self.predictor!r}, {format_factors(self.class_factors)})"


def format_factors(factors) -> str:
    """``"1,0.84,1.2,1.6"``: the factors as the masks header records them (4 significant
    digits)."""
    return ",".join(f"{float(f):.4g}" if math.isfinite(float(f)) else "nan" for f in factors)
