"""Particle kinds against the simulation's truth: what the tree (:mod:`ccdnb.particles`) is
trained and judged on.

The simulator's object kinds map onto the catalog's particle kinds (:func:`truth_kind`);
:func:`label_simulated_clusters` catalogs a simulated image with each cluster's truth kind
beside its named one, :func:`simulated_clusters` does it for many images, and
:func:`confusion_matrix` counts the names. Truth-only: nothing in prediction imports this.
"""

from __future__ import annotations

import numpy as np

from ..objects.particles import KINDS, LOW_ENERGY_KEV

__all__ = ["TRUTH_KINDS", "POINT_KINDS", "WORM_MIN_RANGE_PX", "truth_kind",
           "label_simulated_clusters", "confusion_matrix", "SIMULATION_PRESETS", "HELDOUT_SEED",
           "simulated_clusters"]

#: The simulator's object kinds (:mod:`ccdnb.simulation.objects`) as particle kinds:
#: a ``diffuse`` point deposit is an X-ray above 1 keV and low-energy below; a
#: ``hit`` (one or two pixels) is low-energy below 1 keV and an X-ray above.
TRUTH_KINDS = {"muon": "muon", "track": "muon", "worm": "electron", "alpha": "alpha",
               "xray": "xray", "serial": "serial-register", "lowe": "low-energy"}
POINT_KINDS = ("diffuse", "hit")

#: An electron track shorter than this (pixels) is not resolved: a point deposit.
WORM_MIN_RANGE_PX = 1.0

def truth_kind(kind: str, energy_kev: float) -> str:
    """The particle kind of a simulated object (see :data:`TRUTH_KINDS`).

    An electron whose range in silicon is below one pixel (below about 45 keV,
    :func:`ccdnb.simulation.physics.electron_range_px`) leaves no worm: it is a
    point deposit, named as the point kinds are (X-ray above 1 keV).
    """
    from ..simulation.physics import electron_range_px

    if kind == "worm" and float(electron_range_px(energy_kev)) < WORM_MIN_RANGE_PX:
        kind = "diffuse"
    if kind in POINT_KINDS:
        return "low-energy" if energy_kev < LOW_ENERGY_KEV else "xray"
    return TRUTH_KINDS.get(kind, "unknown")


def label_simulated_clusters(sim, mask=None, gain: float | None = None,
                             track_shape: bool = False):
    """Catalog one simulated image with the truth kind of each cluster beside its named kind.

    Parameters
    ----------
    sim : ccdnb.simulation.SimulatedImage
    mask : ndarray, optional
        Class mask to take the clusters from; the truth label when None (which
        judges the naming alone, not the segmentation).
    gain : float, optional
        ADU per electron; the simulation's own when None.
    track_shape : bool
        Add the track-shape columns (:data:`ccdnb.particles.TRACK_SHAPE_COLUMNS`).

    Returns
    -------
    astropy.table.Table
        The catalog (:func:`ccdnb.catalog.build_catalog`) plus ``truth_kind``
        (the kind of the object owning most of the cluster's pixels, as
        :func:`truth_kind` maps it), ``truth_kev``, ``truth_purity`` (the
        owner's share of the cluster's pixels) and ``truth_completeness`` (the
        share of the owner's labelled pixels inside the cluster): a cluster
        with both near 1 is one whole object, neither a fragment nor a merger.
    """
    from ..io.fits import FitsImage
    from ..objects.catalog import build_catalog, label_clusters

    mask = sim.label if mask is None else mask
    gain = float(sim.meta["gain_adu_per_e"]) if gain is None else gain
    image = FitsImage(0, "SIM", None, sim.image, None, 0)
    table = build_catalog([image], {0: mask}, gain=gain, track_shape=track_shape)
    labels, n = label_clusters(mask)
    owner = np.zeros(n + 1, np.int64)
    if n:
        inside = (labels > 0) & (sim.instances > 0)  # pixels of some object
        pairs = np.stack([labels[inside], sim.instances[inside]])
        unique, counts = np.unique(pairs, axis=1, return_counts=True)
        order = np.lexsort((counts, unique[0]))  # most pixels last, per cluster
        owner[unique[0, order]] = unique[1, order]
    owned = np.zeros(n + 1)      # pixels of the owner in the cluster
    if n:
        owned[unique[0, order]] = counts[order]
    footprint = np.bincount(labels[sim.instances > 0], minlength=n + 1)
    object_pixels = np.bincount(sim.instances.ravel())
    by_id = {int(o["id"]): o for o in sim.objects}
    kinds, energies, purity, completeness = [], [], [], []
    for cluster in table["cluster"]:
        obj = by_id.get(int(owner[cluster]))
        kinds.append("unknown" if obj is None else truth_kind(str(obj["kind"]),
                                                              float(obj["energy_kev"])))
        energies.append(np.nan if obj is None else float(obj["energy_kev"]))
        purity.append(owned[cluster] / max(footprint[cluster], 1))  # among object pixels
        completeness.append(0.0 if obj is None else
                            owned[cluster] / max(object_pixels[int(owner[cluster])], 1))
    table["truth_kind"] = np.asarray(kinds, dtype="U16") if kinds else np.zeros(0, "U16")
    table["truth_kev"] = np.asarray(energies, dtype=np.float32)
    table["truth_purity"] = np.asarray(purity, dtype=np.float32)
    table["truth_completeness"] = np.asarray(completeness, dtype=np.float32)
    return table


def confusion_matrix(truth, named, kinds=KINDS):
    """Counts of clusters by truth kind (rows) and named kind (columns).

    Returns
    -------
    astropy.table.Table
        Column ``truth`` then one column per kind of ``kinds``, and ``correct``
        (the share named right).
    """
    from astropy.table import Table

    truth, named = np.asarray(truth).astype(str), np.asarray(named).astype(str)
    rows = []
    for kind in kinds:
        mine = truth == kind
        counts = [int(np.count_nonzero(mine & (named == other))) for other in kinds]
        total = int(np.count_nonzero(mine))
        rows.append([kind, *counts, total, counts[kinds.index(kind)] / total if total else np.nan])
    return Table(rows=rows, names=["truth", *kinds, "total", "correct"])


#: Presets of the particle-ID simulation, cycled image by image: every kind,
#: conventional and skipper noise, sparse to crowded.
SIMULATION_PRESETS = ("random", "random", "random", "clusters-only", "clusters-only",
                      "glow-events", "fe55", "skipper", "skipper-dense", "balanced",
                      "isolated-hits")

#: Seeds of the held-out images start here (training images start at 0).
HELDOUT_SEED = 100_000


def simulated_clusters(n_images: int, seed: int = 0, *, presets=SIMULATION_PRESETS,
                       shape=(256, 256), segment=None, track_shape=False):
    """Catalogs of simulated images with the truth kind of every cluster.

    Parameters
    ----------
    n_images : int
        Images, one per seed ``seed, seed + 1, ...``, their presets cycled from ``presets``.
    seed : int
        First seed (:data:`HELDOUT_SEED` for the held-out set).
    shape : tuple of int
    segment : callable, optional
        ``image -> class mask`` (e.g. ``ccdnb.Segmenter().segment``): clusters as
        a model finds them; the truth label's clusters when None.
    track_shape : bool
        Add the track-shape columns (what the muon-or-electron stage is trained on).

    Returns
    -------
    astropy.table.Table
        :func:`label_simulated_clusters`'s columns plus ``preset``, ``image``
        (its seed) and ``noise_e`` (read noise in electrons).
    """
    from astropy.table import vstack

    from ..simulation import simulate_image

    tables = []
    for i in range(n_images):
        preset = presets[i % len(presets)]
        sim = simulate_image(preset, shape, seed + i)
        table = label_simulated_clusters(sim, None if segment is None else segment(sim.image),
                                         track_shape=track_shape)
        table["preset"] = np.full(len(table), preset, dtype="U16")
        table["image"] = np.full(len(table), seed + i, dtype=np.int64)
        table["noise_e"] = np.full(len(table), sim.meta["read_noise_adu"]
                                   / sim.meta["gain_adu_per_e"], dtype=np.float32)
        tables.append(table)
    return vstack(tables)
