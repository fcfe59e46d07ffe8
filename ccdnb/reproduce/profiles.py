"""Sizes of the reproduction: the parameters each notebook receives per profile.

Every notebook also receives ``run_dir`` (where it reads what the previous
notebook wrote and writes its own products), ``figures_dir`` (where figures
and reports go) and ``profile`` (the profile's name) from :mod:`ccdnb.reproduce.runner`.

Run-directory layout (the contract between notebooks):

``data/train.npz``, ``data/test.npz``
    written by 01 (see :func:`ccdnb.simulation.save_dataset`).
``data/label_stats.json``
    written by 02: class percentages and inverse-frequency class weights.
``model/model.keras``, ``model/model.card.json``, ``model/history.csv``
    written by 04.
``evaluation/``
    written by 05 (per-image predictions, tables).
``inference/``
    written by 06 (the FITS frame, its ``.masks.fits``, catalog).
``monitor/``
    written by 07 (a simulated run's frames, and its report from ``ccdnb.monitor``).
"""

from __future__ import annotations

import copy

__all__ = ["NOTEBOOKS", "PROFILES", "DEFAULT_PROFILE", "notebook_parameters"]

NOTEBOOKS = (
    "01_simulate",
    "02_label",
    "03_augment",
    "04_train",
    "05_evaluate",
    "06_damic_inference",
    "07_monitor",
)

#: Profile name -> notebook name -> parameters. Keep the keys in step with
#: each notebook's ``parameters`` cell.
PROFILES: dict[str, dict[str, dict]] = {
    "smoke": {
        "01_simulate": dict(train_preset="thesis", test_preset="thesis", n_train=12, n_test=4,
                            image_size=64, train_seed=1, test_seed=1001, train_overrides={}),
        "02_label": dict(n_show=2),
        "03_augment": dict(n_examples=2, augment_seed=3),
        "04_train": dict(architecture="small", epochs=2, batch_size=4, steps_per_epoch=3,
                         optimizer="adam", loss="weighted_cce", train_seed=5, max_minutes=None),
        "05_evaluate": dict(n_examples=2, tile_size=64, margin=16, invariance_seed=11,
                            experiments=["balanced_vs_imbalanced", "weighted_vs_unweighted",
                                         "figure16"],
                            particle_images=22, fe55_frames=1, fe55_size=384),
        "06_damic_inference": dict(fits_path="", frame_shape=[128, 192], n_amplifiers=2,
                                   frame_seed=2020, tile_size=64, margin=16, section_size=64,
                                   class_of_interest="cluster", model="run"),
        "07_monitor": dict(n_frames=8, frame_size=128, n_amplifiers=1, run_seed=17,
                           model="default"),
    },
    "quick": {
        "01_simulate": dict(train_preset="thesis", test_preset="thesis", n_train=400, n_test=42,
                            image_size=256, train_seed=1, test_seed=1001, train_overrides={}),
        "02_label": dict(n_show=4),
        "03_augment": dict(n_examples=4, augment_seed=3),
        "04_train": dict(architecture="small", epochs=25, batch_size=8, steps_per_epoch=40,
                         optimizer="adam", loss="weighted_cce", train_seed=5, max_minutes=None),
        "05_evaluate": dict(n_examples=4, tile_size=256, margin=32, invariance_seed=11,
                            experiments=[], particle_images=220, fe55_frames=2, fe55_size=512),
        "06_damic_inference": dict(fits_path="", frame_shape=[1024, 1024], n_amplifiers=4,
                                   frame_seed=2020, tile_size=256, margin=32, section_size=256,
                                   class_of_interest="cluster", model="default"),
        "07_monitor": dict(n_frames=50, frame_size=512, n_amplifiers=1, run_seed=21,
                           model="default"),
    },
    "thesis": {
        "01_simulate": dict(train_preset="thesis-balanced", test_preset="thesis", n_train=200,
                            n_test=42, image_size=256, train_seed=1, test_seed=1001,
                            train_overrides={"glow_fraction": 0.6}),
        "02_label": dict(n_show=4),
        "03_augment": dict(n_examples=4, augment_seed=3),
        # The thesis: up to 100 epochs with early stopping (more than 5 h on its GPU).
        # Ours: 13 epochs per training, what a 24-minute budget gave on a 2-core CPU, so
        # that this model and the three experiment variants of 05 fit one session. An
        # epoch count, not a clock: a budget would stop at a different epoch on a busy
        # or other machine, and the figures would no longer follow from the code.
        "04_train": dict(architecture="thesis", epochs=13, batch_size=1, steps_per_epoch=0,
                         optimizer="adadelta", loss="weighted_cce", train_seed=5,
                         max_minutes=None),
        "05_evaluate": dict(n_examples=6, tile_size=256, margin=32, invariance_seed=11,
                            experiments=["balanced_vs_imbalanced", "weighted_vs_unweighted",
                                         "figure16"],
                            particle_images=550, fe55_frames=4, fe55_size=512),
        "06_damic_inference": dict(fits_path="", frame_shape=[4096, 4096], n_amplifiers=4,
                                   frame_seed=2020, tile_size=256, margin=32, section_size=256,
                                   class_of_interest="cluster", model="run"),
        "07_monitor": dict(n_frames=50, frame_size=512, n_amplifiers=2, run_seed=21,
                           model="default"),
    },
}

DEFAULT_PROFILE = "quick"


def notebook_parameters(profile: str, notebook: str) -> dict:
    """Return a copy of the parameters that ``notebook`` gets under ``profile``.

    Parameters
    ----------
    profile : str
        One of :data:`PROFILES`.
    notebook : str
        Notebook name without extension, one of :data:`NOTEBOOKS`.

    Returns
    -------
    dict
        The notebook's parameters (without ``run_dir``, ``figures_dir`` and ``profile``).
    """
    if profile not in PROFILES:
        raise KeyError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
    return copy.deepcopy(PROFILES[profile][notebook])
