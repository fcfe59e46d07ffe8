"""Name each cluster by the particle that made it, from its energy and shape.

Plain rules on the catalog's columns, in this order (the first that holds wins):

===================  ==========================================================
kind                 rule
===================  ==========================================================
``serial-register``  all its charge in one row, 3 pixels or longer
                     (a hit in the serial register is read along the row)
``alpha``            at least 1 MeV, round (elongation below 3)
``muon``             straight and long: length at least 12 pixels and
                     elongation at least 3 (minimum-ionising, crosses the CCD)
``electron``         at least 20 keV, or 6 pixels long and elongation 1.6 or
                     more (the curly worm of a Compton or beta electron)
``xray``             compact, 1 to 20 keV (diffusion-limited point deposit;
                     the Fe-55 lines at 5.90 / 6.49 keV stand out)
``low-energy``       compact, below 1 keV (a few electrons to about 1 keV)
``unknown``          everything else (e.g. no gain: energies unknown)
===================  ==========================================================

The confidence is how far the deciding feature sits from its threshold, on
a logistic scale: 0.5 on the threshold, towards 1 far from it.

The simulator's truth kinds map onto these names as :data:`TRUTH_KINDS` says.
"""

from __future__ import annotations

import numpy as np

KINDS = ("muon", "electron", "alpha", "xray", "low-energy", "serial-register", "unknown")

#: Colours of the kinds (DS9 names; also used by the spectrum plot).
KIND_COLOURS = {"muon": "red", "electron": "yellow", "alpha": "magenta", "xray": "cyan",
                "low-energy": "green", "serial-register": "orange", "unknown": "white"}

#: The simulator's object kinds (:mod:`ccdnb.simulation.objects`) as particle kinds:
#: a ``diffuse`` point deposit is an X-ray above 1 keV and low-energy below; a
#: ``hit`` (one or two pixels) is low-energy below 1 keV and an X-ray above.
TRUTH_KINDS = {"muon": "muon", "track": "muon", "worm": "electron", "alpha": "alpha",
               "xray": "xray", "serial": "serial-register", "lowe": "low-energy"}
POINT_KINDS = ("diffuse", "hit")

LOW_ENERGY_KEV = 1.0
XRAY_MAX_KEV = 20.0
ELECTRON_KEV = 20.0
ELECTRON_ELONGATION = 1.6
ALPHA_KEV = 1000.0
MUON_LENGTH_PX = 12.0
MUON_ELONGATION = 3.0
ELECTRON_LENGTH_PX = 6.0
SERIAL_LENGTH_PX = 3


def truth_kind(kind: str, energy_kev: float) -> str:
    """The particle kind of a simulated object (see :data:`TRUTH_KINDS`)."""
    if kind in POINT_KINDS:
        return "low-energy" if energy_kev < LOW_ENERGY_KEV else "xray"
    return TRUTH_KINDS.get(kind, "unknown")


def _confidence(value, threshold, scale):
    """Logistic in log distance from ``threshold``: 0.5 on it, -> 1 as |log ratio| grows."""
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = np.abs(np.log(np.maximum(value, 1e-12) / threshold)) / scale
    return 1.0 / (1.0 + np.exp(-4.0 * margin))


def classify(energy_kev, length, elongation, rows, columns):
    """Kind and confidence of every cluster.

    Parameters
    ----------
    energy_kev : array_like
        Energy (keV); NaN when the gain is unknown.
    length, elongation : array_like
        Shape from the second moments (pixels; major over minor axis).
    rows, columns : array_like
        Rows and columns the cluster spans.

    Returns
    -------
    kind : ndarray of str
    confidence : ndarray of float
    """
    energy = np.asarray(energy_kev, dtype=float)
    length = np.asarray(length, dtype=float)
    elongation = np.asarray(elongation, dtype=float)
    rows, columns = np.asarray(rows), np.asarray(columns)
    n = energy.size
    kind = np.full(n, "unknown", dtype="U16")
    confidence = np.full(n, 0.5)
    known = np.isfinite(energy)
    undecided = np.ones(n, bool)

    def assign(name, where, conf):
        nonlocal undecided
        where = where & undecided
        kind[where] = name
        confidence[where] = np.asarray(conf, dtype=float)[where] if np.ndim(conf) else conf
        undecided &= ~where

    assign("serial-register", (rows == 1) & (columns >= SERIAL_LENGTH_PX),
           _confidence(columns, SERIAL_LENGTH_PX - 0.5, 0.5))
    assign("alpha", known & (energy >= ALPHA_KEV) & (elongation < 3.0),
           _confidence(energy, ALPHA_KEV, 0.5))
    straight = (length >= MUON_LENGTH_PX) & (elongation >= MUON_ELONGATION)
    assign("muon", straight, np.minimum(_confidence(length, MUON_LENGTH_PX, 0.5),
                                        _confidence(elongation, MUON_ELONGATION, 0.5)))
    electron = known & ((energy >= ELECTRON_KEV) | ((length >= ELECTRON_LENGTH_PX)
                                                    & (elongation >= ELECTRON_ELONGATION)))
    assign("electron", electron, np.maximum(_confidence(energy, ELECTRON_KEV, 0.5),
                                            _confidence(length, ELECTRON_LENGTH_PX, 0.3)))
    assign("xray", known & (energy >= LOW_ENERGY_KEV) & (energy < XRAY_MAX_KEV),
           _confidence(energy, LOW_ENERGY_KEV, 0.5))
    assign("low-energy", known & (energy < LOW_ENERGY_KEV),
           _confidence(energy, LOW_ENERGY_KEV, 0.5))
    return kind, confidence


def label_simulated_clusters(sim, mask=None, gain: float | None = None):
    """Catalog one simulated image with the truth kind of each cluster beside its named kind.

    Parameters
    ----------
    sim : ccdnb.simulation.SimulatedImage
    mask : ndarray, optional
        Class mask to take the clusters from; the truth label when None (which
        judges the naming alone, not the segmentation).
    gain : float, optional
        ADU per electron; the simulation's own when None.

    Returns
    -------
    astropy.table.Table
        The catalog (:func:`ccdnb.catalog.build_catalog`) plus ``truth_kind``
        (the kind of the object owning most of the cluster's charge, as
        :func:`truth_kind` maps it) and ``truth_kev``.
    """
    from .catalog import build_catalog, label_clusters
    from .fitsio import FitsImage

    mask = sim.label if mask is None else mask
    gain = float(sim.meta["gain_adu_per_e"]) if gain is None else gain
    image = FitsImage(0, "SIM", None, sim.image, None, 0)
    table = build_catalog([image], {0: mask}, gain=gain)
    labels, n = label_clusters(mask)
    owner = np.zeros(n + 1, np.int64)
    if n:
        inside = labels > 0
        pairs = np.stack([labels[inside], sim.instances[inside]])
        unique, counts = np.unique(pairs, axis=1, return_counts=True)
        order = np.lexsort((counts, unique[0]))  # most pixels last, per cluster
        owner[unique[0, order]] = unique[1, order]
    by_id = {int(o["id"]): o for o in sim.objects}
    kinds, energies = [], []
    for cluster in table["cluster"]:
        obj = by_id.get(int(owner[cluster]))
        kinds.append("unknown" if obj is None else truth_kind(str(obj["kind"]),
                                                              float(obj["energy_kev"])))
        energies.append(np.nan if obj is None else float(obj["energy_kev"]))
    table["truth_kind"] = np.asarray(kinds, dtype="U16") if kinds else np.zeros(0, "U16")
    table["truth_kev"] = np.asarray(energies, dtype=np.float32)
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

    truth, named = np.asarray(truth), np.asarray(named)
    rows = []
    for kind in kinds:
        mine = truth == kind
        counts = [int(np.count_nonzero(mine & (named == other))) for other in kinds]
        total = int(np.count_nonzero(mine))
        rows.append([kind, *counts, total, counts[kinds.index(kind)] / total if total else np.nan])
    return Table(rows=rows, names=["truth", *kinds, "total", "correct"])
