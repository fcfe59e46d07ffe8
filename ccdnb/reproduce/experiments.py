"""The thesis's training experiments, re-run on demand from notebook 05.

The thesis (its sections 4.1.3-4.1.5 and figure 16) reached its working model in
steps, each a training that differs from the last in one choice. Here every
step is a *variant* of the profile's own ``04_train`` recipe, trained with
:func:`ccdnb.training.train.train_model` at the same sizes and epochs:

``balanced-weighted``
    the balanced training set (``thesis-balanced``) and the inverse-frequency
    weighted loss: in the ``thesis`` profile, notebook 04's model itself (a
    variant whose recipe is the profile's own is reused, not retrained).
``imbalanced-weighted``
    the same recipe on training images at the test set's sparse density
    (``thesis`` preset, background ~92 % of the pixels): the thesis's tuned
    model that "achieved 98 % accuracy" but found no cluster.
``balanced-unweighted``
    the balanced set with the plain categorical cross-entropy.
``imbalanced-cluster-weight``
    the sparse set with the cluster weight multiplied by
    :data:`RAISED_CLUSTER_WEIGHT` (the thesis's second attempt, which found
    clusters and lost the background). The thesis gives no factor; ours is stated here.

An *experiment* compares some of these variants on the same test set; a variant
shared by two experiments is trained once.
"""

from __future__ import annotations

from pathlib import Path

from ..classes import CLUSTER, N_CLASSES

__all__ = ["RAISED_CLUSTER_WEIGHT", "VARIANTS", "EXPERIMENTS", "TITLES", "THESIS_FINDINGS",
           "variants_of", "train_variant", "run_experiments"]

#: The thesis's second attempt raised the cluster weight; it does not say by how
#: much. Five times the inverse-frequency weight (then normalised back to sum 4).
RAISED_CLUSTER_WEIGHT = 5.0

#: Variant name -> changes to the profile's recipe (``train_preset`` replaces the
#: training set's preset; the other keys are :func:`train_model` arguments).
VARIANTS = {
    "balanced-weighted": {"train_preset": "thesis-balanced", "loss": "weighted_cce"},
    "imbalanced-weighted": {"train_preset": "thesis", "loss": "weighted_cce"},
    "balanced-unweighted": {"train_preset": "thesis-balanced", "loss": "cce"},
    "imbalanced-cluster-weight": {
        "train_preset": "thesis", "loss": "weighted_cce",
        "class_weight_scale": tuple(RAISED_CLUSTER_WEIGHT if k == CLUSTER else 1.0
                                    for k in range(N_CLASSES))},
}

#: Experiment name -> (label shown -> variant).
EXPERIMENTS = {
    "balanced_vs_imbalanced": {"imbalanced set": "imbalanced-weighted",
                               "balanced set": "balanced-weighted"},
    "weighted_vs_unweighted": {"unweighted loss": "balanced-unweighted",
                               "weighted loss": "balanced-weighted"},
    "figure16": {"tuned, imbalanced set": "imbalanced-weighted",
                 "raised cluster weight": "imbalanced-cluster-weight",
                 "balanced set": "balanced-weighted"},
}

#: Experiment name -> heading of its figure.
TITLES = {
    "balanced_vs_imbalanced": "Balanced against imbalanced training set (weighted loss)",
    "weighted_vs_unweighted": "Weighted against unweighted loss (balanced training set)",
    "figure16": "The thesis's three attempts (its figure 16)",
}

#: What the thesis found, quoted beside each experiment's figure.
THESIS_FINDINGS = {
    "balanced_vs_imbalanced": (
        "\"In spite of the employment of the weighted categorical crossentropy, the model is not "
        "able to segment all categories when it is being trained with an imbalanced set.\" "
        "(section 5)"),
    "weighted_vs_unweighted": (
        "\"[The categorical crossentropy's] employment did not allow obtaining meaningful "
        "predictions. [...] a weighted version of the loss function was implemented.\" "
        "(section 4.1.3)"),
    "figure16": (
        "Tuned model: \"All background, glowing and hot pixels were correctly segmented. However, "
        "clusters were not detected.\" Raised cluster weight: \"glowing, hot pixels and clusters "
        "were segmented, while the background was not.\" Balanced set: \"above 99% prediction "
        "accuracy [...] correctly segmenting every object.\" (section 4.1.5, figure 16)"),
}


def variants_of(names) -> list[str]:
    """The variants the experiments ``names`` need, each once, in a stable order."""
    needed = []
    for name in names:
        if name not in EXPERIMENTS:
            raise ValueError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
        needed += [v for v in EXPERIMENTS[name].values() if v not in needed]
    return needed


def train_variant(variant, *, out_dir, train_params, simulation, profile_model=None,
                  verbose=0) -> Path:
    """Train one variant of the profile's recipe (or reuse the profile's model).

    Parameters
    ----------
    variant : str
        A key of :data:`VARIANTS`.
    out_dir : str or Path
        The variant's model goes to ``out_dir/<variant>/model.keras`` (replaced).
    train_params : dict
        The profile's ``04_train`` entry (``architecture``, ``epochs``, ``batch_size``,
        ``steps_per_epoch``, ``optimizer``, ``loss``, ``train_seed``, ``max_minutes``).
    simulation : dict
        The profile's ``01_simulate`` entry (``train_preset``, ``n_train``,
        ``image_size``, ``train_seed``, ``train_overrides``): the training set of a
        variant is simulated from it, with the variant's preset.
    profile_model : str or Path, optional
        The profile's own model (notebook 04), used when it exists and the
        variant's recipe is the profile's.
    verbose : int
        Keras verbosity of training.

    Returns
    -------
    Path
        The variant's model file.
    """
    from ..simulation import simulate_dataset
    from ..training.train import train_model

    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    change = dict(VARIANTS[variant])
    preset = change.pop("train_preset")
    recipe = {key: train_params[key] for key in ("architecture", "epochs", "batch_size",
                                                 "steps_per_epoch", "optimizer", "loss")}
    is_profile_recipe = (preset == simulation["train_preset"]
                         and all(recipe.get(k) == v for k, v in change.items()))
    if is_profile_recipe and profile_model and Path(profile_model).exists():
        return Path(profile_model)
    variant_dir = Path(out_dir) / variant
    model_path = variant_dir / "model.keras"
    recipe.update(change)
    train = simulate_dataset(preset, simulation["n_train"], simulation["image_size"],
                             simulation["train_seed"], **(simulation.get("train_overrides") or {}))
    train_model(train.images, train.labels, out_dir=variant_dir, seed=train_params["train_seed"],
                max_minutes=train_params.get("max_minutes"), verbose=verbose,
                data_info={"preset": preset, "n_images": simulation["n_train"],
                           "variant": variant}, **recipe)
    return model_path


def run_experiments(names, test, *, out_dir, train_params, simulation, profile_model=None,
                    tile=256, margin=32, verbose=0) -> tuple[dict, dict]:
    """Train the variants that experiments ``names`` need and evaluate each on ``test``.

    Parameters
    ----------
    names : sequence of str
        Keys of :data:`EXPERIMENTS`.
    test : ccdnb.simulation.Dataset
        The test set every variant is evaluated on.
    out_dir, train_params, simulation, profile_model, verbose
        As in :func:`train_variant`.
    tile, margin : int
        Tiling of the prediction.

    Returns
    -------
    (dict, dict)
        Experiment name -> (label -> metrics of
        :func:`ccdnb.evaluation.report.evaluate_predictions`), and variant name ->
        predicted masks of the test images, shape (N, H, W).
    """
    from ..evaluation.report import evaluate_predictions, predict_dataset
    from ..model import load_model
    from ..predict import predict_image

    metrics, masks = {}, {}
    for variant in variants_of(names):
        path = train_variant(variant, out_dir=out_dir, train_params=train_params,
                             simulation=simulation, profile_model=profile_model, verbose=verbose)
        model, _ = load_model(path)
        pred, prob = predict_dataset(
            lambda image, model=model: predict_image(model, image, tile=tile, margin=margin,
                                                     probabilities=True),
            test.images, with_probabilities=True)
        masks[variant] = pred
        metrics[variant] = evaluate_predictions(test, pred, probabilities=prob)
    results = {name: {label: metrics[variant] for label, variant in EXPERIMENTS[name].items()}
               for name in names}
    return results, masks
