"""The thesis's training experiments, re-run on demand from notebook 05.

Each experiment trains two models that differ in one choice, with
:func:`ccdnb.training.train.train_model` at the profile's ``04_train`` sizes, and
evaluates both on the same test set:

``balanced_vs_imbalanced``
    *imbalanced*: the training images as simulated (background is ~99 % of the
    pixels); *balanced*: the same number of images drawn with replacement
    (seeded), each with probability proportional to its inverse-frequency
    weighted pixel count, so images rich in rare classes (hot pixels,
    clusters) are seen more often and the class shares move toward equal.
``weighted_vs_unweighted``
    the loss with the thesis's inverse-frequency class weights against the
    plain categorical cross-entropy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..classes import class_counts

#: Experiment name -> (variant name -> changes to the training set-up).
EXPERIMENTS = {
    "balanced_vs_imbalanced": {"imbalanced": {"balanced": False},
                               "balanced": {"balanced": True}},
    "weighted_vs_unweighted": {"weighted": {"loss": "weighted_cce"},
                               "unweighted": {"loss": "cce"}},
}


def class_frequencies(labels) -> np.ndarray:
    """Share of the pixels in each class, shape (4,)."""
    counts = class_counts(labels)
    return counts / max(counts.sum(), 1)


def balanced_indices(labels, *, seed=0) -> np.ndarray:
    """Indices of a class-balanced resampling of a set of label images.

    Parameters
    ----------
    labels : array_like of int, shape (N, H, W)
        Truth class masks of the training images.
    seed : int
        Seed of the draw.

    Returns
    -------
    ndarray of int, shape (N,)
        ``N`` image indices drawn with replacement, image ``i`` with probability
        proportional to ``sum_k n_ik / f_k`` (``n_ik`` its pixels of class ``k``,
        ``f_k`` the class's share over all images; absent classes ignored).
    """
    labels = np.asarray(labels)
    freq = class_frequencies(labels)
    inverse = np.divide(1.0, freq, out=np.zeros_like(freq), where=freq > 0)
    counts = np.stack([class_counts(lab) for lab in labels])
    weight = counts @ inverse
    rng = np.random.default_rng(seed)
    return rng.choice(len(labels), size=len(labels), replace=True, p=weight / weight.sum())


def run_experiment(name, train, test, *, out_dir, train_params, seed=0, tile=256, margin=32,
                   verbose=0) -> dict:
    """Train the two variants of experiment ``name`` and evaluate them on ``test``.

    Parameters
    ----------
    name : str
        A key of :data:`EXPERIMENTS`.
    train, test : ccdnb.simulation.Dataset
        Training and test sets.
    out_dir : str or Path
        Each variant's model is written to ``out_dir/<name>/<variant>/``.
    train_params : dict
        The profile's ``04_train`` entry (``architecture``, ``epochs``,
        ``batch_size``, ``steps_per_epoch``, ``optimizer``, ``loss``, ``train_seed``).
    seed : int
        Seed of the balanced resampling.
    tile, margin : int
        Tiling of the prediction.
    verbose : int
        Keras verbosity of training.

    Returns
    -------
    dict
        Variant name -> metrics of :func:`ccdnb.evaluation.report.evaluate_predictions`.
    """
    from ..evaluation.report import evaluate_dataset
    from ..model import load_model
    from ..predict import predict_image
    from ..training.train import train_model

    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
    results = {}
    for variant, change in EXPERIMENTS[name].items():
        images, labels = np.asarray(train.images), np.asarray(train.labels)
        if change.get("balanced"):
            chosen = balanced_indices(labels, seed=seed)
            images, labels = images[chosen], labels[chosen]
        variant_dir = Path(out_dir) / name / variant
        train_model(images, labels, out_dir=variant_dir,
                    architecture=train_params["architecture"], epochs=train_params["epochs"],
                    batch_size=train_params["batch_size"],
                    steps_per_epoch=train_params["steps_per_epoch"],
                    optimizer=train_params["optimizer"],
                    loss=change.get("loss", train_params["loss"]),
                    seed=train_params["train_seed"], verbose=verbose)
        model, _ = load_model(variant_dir / "model.keras")
        results[variant] = evaluate_dataset(
            lambda image, model=model: predict_image(model, image, tile=tile, margin=margin),
            test)
    return results
