"""The invariance test: does the prediction survive a change of detector settings?

The same test images are changed as another detector (or another day of the
same one) would present them, and predicted again:

- ``inverted``: intensities mirrored about each row's pedestal
  (``2 * pedestal_row - x``, the thesis's colour inversion in ADU). Signals
  become negative, so a physical classifier should *not* keep calling them
  clusters: cluster F1 against the (unchanged) truth is expected to collapse.
- ``pedestal``: the pedestal moved by ``pedestal_shift_adu``;
- ``gain``: the signal and noise scaled by ``gain_factor`` about the pedestal;
- ``noise``: extra Gaussian read noise bringing the noise to ``noise_factor``
  times its value (seeded). Faint cluster pixels drown, so some change is
  physical; the truth is kept as simulated.

For each, :func:`invariance_test` reports the share of pixels whose predicted
class changes and the cluster F1 against the truth. A model whose input
normalisation is exact (:func:`ccdnb.normalize.normalize_image`) must give
(almost) no change under ``pedestal`` and ``gain``.
"""

from __future__ import annotations

import numpy as np

from ..classes import CLUSTER
from ..detector import add_read_noise, invert_about_pedestal, scale_gain, shift_pedestal

__all__ = ["INVARIANCE_TRANSFORMS", "TRANSFORM_DEFAULTS", "transform_image", "cluster_f1",
           "invariance_test", "invariance_table"]

#: The transforms :func:`invariance_test` runs by default, in this order.
INVARIANCE_TRANSFORMS = ("pedestal", "gain", "noise", "inverted")

#: Default size of each change.
TRANSFORM_DEFAULTS = dict(pedestal_shift_adu=10_000.0, gain_factor=4.0, noise_factor=2.0)


def transform_image(image, name, *, seed=0, pedestal_shift_adu=10_000.0, gain_factor=4.0,
                    noise_factor=2.0) -> np.ndarray:
    """Return ``image`` as seen under the detector change ``name``.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Raw ADU.
    name : {"inverted", "pedestal", "gain", "noise"}
        The change (see the module docstring).
    seed : int
        Seed of the extra read noise (``noise`` only).
    pedestal_shift_adu, gain_factor, noise_factor : float
        Size of the ``pedestal``, ``gain`` and ``noise`` changes.

    Returns
    -------
    ndarray, shape (H, W), float32
    """
    from ..normalize import estimate_background

    x = np.asarray(image, dtype=np.float64)
    if name == "pedestal":
        out = shift_pedestal(x, pedestal_shift_adu)
    else:
        pedestal, noise = estimate_background(x)
        row_pedestal = pedestal[:, None]
        if name == "inverted":
            out = invert_about_pedestal(x, row_pedestal)
        elif name == "gain":
            out = scale_gain(x, gain_factor, row_pedestal)
        elif name == "noise":
            if noise_factor < 1.0:
                raise ValueError(f"noise_factor must be >= 1, got {noise_factor}")
            extra = noise * np.sqrt(noise_factor ** 2 - 1.0)
            out = add_read_noise(x, extra, np.random.default_rng(seed))
        else:
            raise ValueError(f"unknown transform {name!r}; choose from "
                             f"{', '.join(INVARIANCE_TRANSFORMS)}")
    return out.astype(np.float32)


def cluster_f1(truth, pred) -> float:
    """F1 of the cluster class over all pixels (0 when there is no cluster at all)."""
    from sklearn.metrics import f1_score

    return float(f1_score(np.ravel(truth), np.ravel(pred), labels=[CLUSTER], average=None,
                          zero_division=0)[0])


def invariance_test(predict_fn, images, labels, *, reference=None,
                    transforms=INVARIANCE_TRANSFORMS, seed=0, **sizes) -> list[dict]:
    """Predict transformed copies of ``images`` and compare with the untouched prediction.

    Parameters
    ----------
    predict_fn : callable
        ``image (H, W) -> class mask (H, W)``.
    images : array_like, shape (N, H, W)
        Raw test images (ADU).
    labels : array_like, shape (N, H, W)
        Their truth class masks.
    reference : array_like, shape (N, H, W), optional
        The predictions on the untouched images, when already computed.
    transforms : sequence of str
        Names accepted by :func:`transform_image`.
    seed : int
        Image ``i`` gets noise seed ``seed + i``.
    **sizes
        ``pedestal_shift_adu``, ``gain_factor``, ``noise_factor`` for :func:`transform_image`.

    Returns
    -------
    list of dict
        One row for the untouched images (``transform`` = ``"none"``) and one per
        transform: ``transform``, ``changed_fraction`` (share of pixels whose
        predicted class differs from the untouched prediction) and ``cluster_f1``.
    """
    unknown = set(sizes) - set(TRANSFORM_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown size option(s): {', '.join(sorted(unknown))}")
    sizes = {**TRANSFORM_DEFAULTS, **sizes}
    images, labels = np.asarray(images), np.asarray(labels)
    if reference is None:
        reference = np.stack([predict_fn(im) for im in images])
    reference = np.asarray(reference)
    rows = [{"transform": "none", "changed_fraction": 0.0,
             "cluster_f1": cluster_f1(labels, reference)}]
    for name in transforms:
        pred = np.stack([predict_fn(transform_image(im, name, seed=seed + i, **sizes))
                         for i, im in enumerate(images)])
        rows.append({"transform": name,
                     "changed_fraction": float(np.mean(pred != reference)),
                     "cluster_f1": cluster_f1(labels, pred)})
    return rows


def invariance_table(results: dict) -> list[dict]:
    """Merge the :func:`invariance_test` rows of several predictors into one table.

    Parameters
    ----------
    results : dict
        Predictor name -> its :func:`invariance_test` rows (same transforms, same order).

    Returns
    -------
    list of dict
        One row per transform: ``transform``, then ``"<name> changed"`` and
        ``"<name> cluster F1"`` for each predictor in the order given.

    Raises
    ------
    ValueError
        When the predictors were not tested on the same transforms.
    """
    names = list(results)
    if not names:
        return []
    transforms = [row["transform"] for row in results[names[0]]]
    for name in names[1:]:
        if [row["transform"] for row in results[name]] != transforms:
            raise ValueError(f"{name!r} was tested on other transforms than {names[0]!r}")
    table = []
    for k, transform in enumerate(transforms):
        row = {"transform": transform}
        for name in names:
            row[f"{name} changed"] = results[name][k]["changed_fraction"]
            row[f"{name} cluster F1"] = results[name][k]["cluster_f1"]
        table.append(row)
    return table
