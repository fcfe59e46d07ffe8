"""Weight-space interpolation of a fine-tuned network with the network it started from.

A fine-tune from a trained network stays in that network's basin of the loss, so the
straight line between the two sets of weights is made of working networks (Wortsman et
al. 2022, "Robust fine-tuning of zero-shot models", WiSE-FT; Izmailov et al. 2018 for
averaged weights). Part of the way along it a network often keeps most of what the
fine-tune gained and loses less of what the start did well: issue 33's eleventh
candidate gained on isolated hits and lost edge glow on the held-out frame; half-way
back it keeps most of the first and about half of the second (docs/ablation.md).
Batch-normalisation statistics are interpolated like every other weight (as the
model-soup papers do).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CcdnbInputError

__all__ = ["interpolate_weights", "interpolate_models"]


def interpolate_weights(start, tuned, alpha):
    """``(1 - alpha) * start + alpha * tuned``, array by array.

    Parameters
    ----------
    start, tuned : list of ndarray
        ``keras.Model.get_weights()`` of two networks of one architecture.
    alpha : float
        In [0, 1]: 0 gives ``start``, 1 ``tuned``.

    Returns
    -------
    list of ndarray
        In each array's own dtype.

    Raises
    ------
    CcdnbInputError
        ``alpha`` outside [0, 1], or weights of different architectures.
    """
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise CcdnbInputError(f"alpha {alpha:g} must be in [0, 1]")
    if len(start) != len(tuned) or any(np.shape(a) != np.shape(b)
                                       for a, b in zip(start, tuned)):
        raise CcdnbInputError("the two networks have different architectures: "
                              "interpolate a fine-tune with the network it started from")
    out = []
    for a, b in zip(start, tuned):
        a, b = np.asarray(a), np.asarray(b)
        if not np.issubdtype(a.dtype, np.floating):
            out.append(b.copy())  # counters (none in ccdnb's U-Nets): the fine-tune's
            continue
        mixed = (1.0 - alpha) * a.astype(np.float64) + alpha * b.astype(np.float64)
        out.append(mixed.astype(a.dtype))
    return out


def interpolate_models(start, tuned, alpha, out):
    """Write the network ``alpha`` of the way from ``start`` to ``tuned``, with its card.

    Parameters
    ----------
    start, tuned : str or Path
        ``.keras`` files or shipped model names (``tuned`` fine-tuned from ``start``).
    alpha : float
        In [0, 1].
    out : str or Path
        The ``.keras`` file to write (its card beside it).

    Returns
    -------
    Path
        ``out``.

    Notes
    -----
    The card is the tuned network's with an ``interpolation`` entry (both networks,
    their ids, ``alpha``); any class factors of ``tuned`` are dropped, since they were
    fitted to the tuned network's probabilities: fit the new network's own with
    ``ccdnb class-factors``. Nothing is written when either network cannot be read
    (:class:`~ccdnb.errors.CcdnbInputError`).
    """
    from ..model import load_model_file, model_identity, resolve_model_path, save_model

    start_path, tuned_path = resolve_model_path(start), resolve_model_path(tuned)
    start_model, start_card = load_model_file(start_path)
    tuned_model, tuned_card = load_model_file(tuned_path)
    weights = interpolate_weights(start_model.get_weights(), tuned_model.get_weights(), alpha)
    tuned_model.set_weights(weights)
    card = {key: value for key, value in tuned_card.items()
            if key not in ("class_factors", "heldout")}
    card["interpolation"] = {
        "start": str(start), "start_id": model_identity(start_path, start_card)[1],
        "tuned": str(tuned), "tuned_id": model_identity(tuned_path, tuned_card)[1],
        "alpha": float(alpha),
    }
    return save_model(tuned_model, Path(out), card)
