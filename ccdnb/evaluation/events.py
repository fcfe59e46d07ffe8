"""Event-level metrics from the simulator's objects table and instances map.

Pixel scores weigh a 2000-pixel alpha blob 2000 times as much as a one-pixel
low-energy event; a physicist counts events. These functions count them:

- a **cluster is found as cluster** when at least one pixel of its footprint
  (``instances == id``) is predicted as cluster, and **found at all** when at
  least one footprint pixel is predicted as any class but background; the
  efficiency is the share of clusters found, per bin of peak significance and of
  energy, and per object kind (:func:`kind_efficiency_table`);
- a **false cluster** is a connected group of predicted cluster pixels that
  touches (overlaps or borders) no true cluster footprint;
- a **hot pixel or glow object is recalled** when more than half of its
  footprint pixels are predicted as its class;
- **signal is lost** when a connected group of pixels standing at or above
  5 sigma above the background is predicted background throughout
  (:func:`signal_lost`): the network may decide what a group is, never that
  it is not there.

"Connected" is always 8-connectivity (diagonal neighbours belong together, as
cluster finders count them): :func:`ccdnb.objects.groups.label_groups` is the one place that labels.

All functions take stacks ``(N, H, W)`` (a single ``(H, W)`` image is treated
as ``N = 1``) and an objects table whose ``image`` field indexes the stack.
"""

from __future__ import annotations

import numpy as np

from ..classes import BACKGROUND, CLASS_NAMES, CLUSTER, GLOWING, HOT_PIXEL, PRIORITY
from ..objects.groups import EIGHT_CONNECTED, label_groups
from ..predict.rules.signal_floor import SIGNAL_SIGMA

__all__ = ["SIGNIFICANCE_BINS", "ENERGY_BINS_KEV", "ELECTRON_BINS", "EV_PER_ELECTRON",
           "ALL_KINDS", "ON_GLOW", "ON_HOT_PIXEL", "NON_BACKGROUND", "cluster_detection",
           "efficiency_table", "kind_selections", "kind_efficiency_table", "select_efficiency",
           "electron_bin_name", "electron_efficiency_table", "band_efficiency",
           "false_cluster_components", "false_cluster_labels", "object_recall",
           "significance_map", "signal_lost"]

#: Edges of the peak-significance bins (read-noise sigma) of the cluster efficiency.
SIGNIFICANCE_BINS = (0.0, 3.0, 5.0, 10.0, 100.0, np.inf)
#: Edges of the energy bins (keV) of the cluster efficiency.
ENERGY_BINS_KEV = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0, np.inf)

#: Edges of the charge bins (whole electrons) of :func:`electron_efficiency_table`:
#: below 2, 2-4, 5-9, 10-99, 100-999 and 1000 electrons or more.
ELECTRON_BINS = (0, 2, 5, 10, 100, 1000, np.inf)
#: Energy to make one electron-hole pair in silicon (eV), as the simulation uses.
EV_PER_ELECTRON = 3.77

#: Pseudo-kinds of :func:`kind_efficiency_table`: every cluster, clusters on glow
#: and clusters crossing a hot pixel (the objects table's ``on`` field).
ALL_KINDS = "all"
ON_GLOW = "on-glow"
ON_HOT_PIXEL = "on-hot-pixel"

#: Classes that count as "found at all": anything but background.
NON_BACKGROUND = (GLOWING, HOT_PIXEL, CLUSTER)


def _stack(array) -> np.ndarray:
    array = np.asarray(array)
    return array[None] if array.ndim == 2 else array


def _objects_of(objects, cls):
    objects = np.asarray(objects)
    return objects[objects["cls"] == cls]


def _footprint_counts(instances, selected) -> np.ndarray:
    """Pixels per instance id in ``instances[selected]`` (index = id)."""
    return np.bincount(instances[selected].ravel(), minlength=int(instances.max()) + 1)


def cluster_detection(pred, instances, objects, *, as_classes=(CLUSTER,)):
    """Which true clusters have at least one footprint pixel predicted in ``as_classes``.

    Parameters
    ----------
    pred : array_like of int, shape (N, H, W) or (H, W)
        Predicted class masks.
    instances : array_like of int, shape like ``pred``
        Object id owning each pixel's truth label, 0 for background.
    objects : structured ndarray
        Objects table (fields ``image``, ``id``, ``cls`` at least).
    as_classes : sequence of int
        Predicted classes that count: ``(CLUSTER,)`` (the default) for "found as
        cluster", :data:`NON_BACKGROUND` for "found at all".

    Returns
    -------
    found : ndarray of bool, shape (n_clusters,)
        One flag per cluster object, in table order. A cluster whose footprint
        is empty (no pixel above 1 sigma, or every pixel owned by an overlapping
        hot pixel) cannot be found and counts as missed.
    clusters : structured ndarray
        The cluster rows of ``objects`` that ``found`` refers to.
    """
    pred, instances = _stack(pred), _stack(instances)
    clusters = _objects_of(objects, CLUSTER)
    found = np.zeros(len(clusters), dtype=bool)
    for image in np.unique(clusters["image"]):
        rows = np.flatnonzero(clusters["image"] == image)
        hit = _footprint_counts(instances[image], np.isin(pred[image], as_classes))
        ids = clusters["id"][rows]
        found[rows] = (ids < hit.size) & (hit[np.minimum(ids, hit.size - 1)] > 0)
    return found, clusters


def efficiency_table(found, values, edges) -> list[dict]:
    """Detection efficiency in bins of ``values``.

    Parameters
    ----------
    found : array_like of bool
        One flag per object.
    values : array_like of float
        The binned quantity per object (peak significance, energy); NaN values
        are left out.
    edges : sequence of float
        Bin edges, increasing; bin ``i`` is ``edges[i] <= v < edges[i+1]``.

    Returns
    -------
    list of dict
        Per bin: ``low``, ``high``, ``n`` (objects), ``found``, ``efficiency``
        (NaN for an empty bin) and ``error`` (binomial standard error,
        ``sqrt(e (1 - e) / n)``).
    """
    found = np.asarray(found, dtype=bool)
    values = np.asarray(values, dtype=np.float64)
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (values >= low) & (values < high)
        n, k = int(inside.sum()), int(found[inside].sum())
        eff = k / n if n else np.nan
        err = np.sqrt(eff * (1.0 - eff) / n) if n else np.nan
        rows.append({"low": float(low), "high": float(high), "n": n, "found": k,
                     "efficiency": float(eff), "error": float(err)})
    return rows


def kind_selections(clusters) -> dict:
    """Which clusters belong to each kind and pseudo-kind.

    Parameters
    ----------
    clusters : structured ndarray
        Cluster rows of an objects table (field ``kind``; ``on`` optional).

    Returns
    -------
    dict
        Name -> boolean selection over ``clusters``: :data:`ALL_KINDS` first,
        then every ``kind`` present (sorted), then :data:`ON_GLOW` and
        :data:`ON_HOT_PIXEL` when the table has an ``on`` field (cluster sitting
        on glow: ``on == GLOWING``; crossing a hot pixel or column:
        ``on == HOT_PIXEL``). Tables without ``on`` (older datasets) get no
        pseudo-kinds.
    """
    clusters = np.asarray(clusters)
    selections = {ALL_KINDS: np.ones(len(clusters), dtype=bool)}
    kinds = clusters["kind"] if len(clusters) else np.zeros(0, dtype="U1")
    for kind in sorted(set(np.asarray(kinds).tolist())):
        selections[str(kind)] = kinds == kind
    if clusters.dtype.names and "on" in clusters.dtype.names:
        selections[ON_GLOW] = clusters["on"] == GLOWING
        selections[ON_HOT_PIXEL] = clusters["on"] == HOT_PIXEL
    return selections


def _bin_name(low, high) -> str:
    if not np.isfinite(high):
        return f">={low:g}"
    return f"{low:g}-{high:g}"


def kind_efficiency_table(pred, instances, objects, *, edges=SIGNIFICANCE_BINS) -> list[dict]:
    """Cluster efficiency per object kind and per bin of peak significance.

    Parameters
    ----------
    pred, instances : array_like of int, shape (N, H, W) or (H, W)
        Predicted class masks and the truth instance map.
    objects : structured ndarray
        Objects table (fields ``image``, ``id``, ``cls``, ``kind``, ``peak_sigma``;
        ``on`` optional).
    edges : sequence of float
        Peak-significance bin edges (read-noise sigma).

    Returns
    -------
    list of dict
        One row per (kind, bin) with clusters in it, the kinds of
        :func:`kind_selections` in order, each followed by its total (``bin``
        ``"all"``, all significances): ``kind``, ``bin`` (e.g. ``"3-5"``,
        ``">=100"``), ``low``, ``high`` (``inf`` for the last bin and the
        total), ``n`` (clusters), ``found_as_cluster`` and ``found_any``
        (clusters with at least one footprint pixel predicted cluster, or
        predicted any class but background), ``efficiency_cluster`` and
        ``efficiency_any`` (their shares). Kinds with no cluster give no rows.
    """
    as_cluster, clusters = cluster_detection(pred, instances, objects)
    any_class, _ = cluster_detection(pred, instances, objects, as_classes=NON_BACKGROUND)
    peaks = np.asarray(clusters["peak_sigma"], dtype=np.float64)
    rows = []
    for kind, chosen in kind_selections(clusters).items():
        if not chosen.any():
            continue
        bins = list(zip(edges[:-1], edges[1:])) + [(-np.inf, np.inf)]
        for low, high in bins:
            inside = chosen & (peaks >= low) & (peaks < high)
            n = int(inside.sum())
            total = not np.isfinite(low)
            if not n and not total:
                continue
            k_cluster, k_any = int(as_cluster[inside].sum()), int(any_class[inside].sum())
            rows.append({"kind": kind, "bin": "all" if total else _bin_name(low, high),
                         "low": 0.0 if total else float(low), "high": float(high), "n": n,
                         "found_as_cluster": k_cluster, "found_any": k_any,
                         "efficiency_cluster": k_cluster / n if n else np.nan,
                         "efficiency_any": k_any / n if n else np.nan})
    return rows


def select_efficiency(rows, kind, low=0.0, high=np.inf) -> dict:
    """Sum the bins of a :func:`kind_efficiency_table` inside ``[low, high)`` for one kind.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`kind_efficiency_table` (or their JSON form, ``high``
        ``None`` for infinity).
    kind : str
        A kind or pseudo-kind (``"all"``, ``"xray"``, ``"on-glow"`` ...).
    low, high : float
        Significance range; must be made of whole bins of the table (e.g.
        ``low=5`` for "peak >= 5 sigma" with :data:`SIGNIFICANCE_BINS`).

    Returns
    -------
    dict
        ``n``, ``found_as_cluster``, ``found_any``, ``efficiency_cluster`` and
        ``efficiency_any`` (NaN when ``n`` is 0).

    Raises
    ------
    ValueError
        A bin of the table straddles ``low`` or ``high``.
    """
    n = k_cluster = k_any = 0
    for row in rows:
        if row["kind"] != kind or row["bin"] == "all":
            continue
        r_low = float(row["low"])
        r_high = np.inf if row["high"] is None else float(row["high"])
        if r_low >= low and r_high <= high:
            n += row["n"]
            k_cluster += row["found_as_cluster"]
            k_any += row["found_any"]
        elif r_high > low and r_low < high:
            raise ValueError(f"bin {row['bin']} of kind {kind!r} straddles [{low:g}, {high:g})")
    return {"n": n, "found_as_cluster": k_cluster, "found_any": k_any,
            "efficiency_cluster": k_cluster / n if n else np.nan,
            "efficiency_any": k_any / n if n else np.nan}


def electron_bin_name(low, high) -> str:
    """``"2-4"`` for the whole-electron bin ``[2, 5)``, ``">=1000"`` for ``[1000, inf)``."""
    if not np.isfinite(high):
        return f">={low:g}"
    return f"{low:g}-{high - 1:g}"


def electron_efficiency_table(found, energy_kev, edges=ELECTRON_BINS) -> list[dict]:
    """Detection efficiency per bin of charge in whole electrons, with the keV beside.

    At skipper noise every electron is many read-noise sigma, so bins of peak
    significance say little; a skipper experiment bins its clusters by charge.

    Parameters
    ----------
    found : array_like of bool
        One flag per cluster (e.g. from :func:`cluster_detection`).
    energy_kev : array_like of float
        The clusters' deposited energy (the objects table's ``energy_kev``),
        turned into electrons at :data:`EV_PER_ELECTRON` and rounded to whole
        electrons.
    edges : sequence of float
        Bin edges in electrons, increasing; bin ``i`` holds ``edges[i] <= n <
        edges[i+1]`` (``[2, 5)`` is the bin ``"2-4"``).

    Returns
    -------
    list of dict
        Rows of :func:`efficiency_table` (``low``, ``high`` in electrons, ``n``,
        ``found``, ``efficiency``, ``error``), each with ``bin`` (its name, e.g.
        ``"5-9"``) and ``low_kev``, ``high_kev`` (the edges in keV).
    """
    electrons = np.rint(np.asarray(energy_kev, dtype=np.float64) * 1000.0 / EV_PER_ELECTRON)
    rows = efficiency_table(found, electrons, edges)
    for row in rows:
        row["bin"] = electron_bin_name(row["low"], row["high"])
        row["low_kev"] = row["low"] * EV_PER_ELECTRON / 1000.0
        row["high_kev"] = row["high"] * EV_PER_ELECTRON / 1000.0
    return rows


def band_efficiency(rows, low=-np.inf, high=np.inf) -> dict:
    """Sum the bins of an efficiency table that lie inside ``[low, high)``.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`efficiency_table` or :func:`electron_efficiency_table`
        (or their JSON form, ``high`` ``None`` for infinity).
    low, high : float
        The band; it must be made of whole bins.

    Returns
    -------
    dict
        ``n``, ``found`` and ``efficiency`` (NaN when ``n`` is 0).

    Raises
    ------
    ValueError
        A bin straddles ``low`` or ``high``.
    """
    n = k = 0
    for row in rows:
        r_low = float(row["low"])
        r_high = np.inf if row["high"] is None else float(row["high"])
        if r_low >= low and r_high <= high:
            n += row["n"]
            k += row["found"]
        elif r_high > low and r_low < high:
            raise ValueError(f"bin [{r_low:g}, {r_high:g}) straddles [{low:g}, {high:g})")
    return {"n": n, "found": k, "efficiency": k / n if n else np.nan}


def false_cluster_components(pred, instances, objects, *, on_background_only=False,
                             min_pixels=1) -> int:
    """Count predicted cluster components that touch no true cluster footprint.

    Parameters
    ----------
    pred, instances : array_like of int, shape (N, H, W) or (H, W)
    objects : structured ndarray
        Objects table (fields ``image``, ``id``, ``cls``).
    on_background_only : bool
        Count only the components that touch no true object of any class
        (fakes made of noise or unlabelled charge), leaving out clusters
        predicted on hot pixels or glow (class confusions).
    min_pixels : int
        Count only components of at least this many pixels (2: leave out
        single pixels, which a single-electron field makes by itself).

    Returns
    -------
    int
        Connected components (8-connectivity) of ``pred == CLUSTER`` of at least
        ``min_pixels`` pixels with no pixel
        on or next to (8-neighbour) a true cluster footprint (with
        ``on_background_only``: any true object's footprint), summed over images.
        "Next to" keeps a prediction that spills one pixel beyond the 1-sigma
        footprint of a real cluster from counting as false.
    """
    pred, instances = _stack(pred), _stack(instances)
    total = 0
    for image in range(pred.shape[0]):
        _, false = false_cluster_labels(pred[image], instances[image],
                                        objects[objects["image"] == image],
                                        on_background_only=on_background_only,
                                        min_pixels=min_pixels)
        total += int(np.count_nonzero(false))
    return total


def false_cluster_labels(pred, instances, objects, *, on_background_only=False,
                         min_pixels=1):
    """The predicted cluster components of one image and which of them are false.

    Parameters
    ----------
    pred, instances : array_like of int, shape (H, W)
    objects : structured ndarray
        The image's objects (fields ``id``, ``cls``).
    on_background_only, min_pixels
        As for :func:`false_cluster_components`.

    Returns
    -------
    components : ndarray of int32, shape (H, W)
        :func:`ccdnb.objects.groups.label_groups` of ``pred == CLUSTER``.
    false : ndarray of bool, shape (n + 1,)
        Per component label (0 is no component), whether it counts as false.
    """
    from scipy import ndimage

    pred, instances = np.asarray(pred), np.asarray(instances)
    components, n = label_groups(pred == CLUSTER)
    false = np.bincount(components.ravel(), minlength=n + 1) >= min_pixels
    false[0] = False
    if n == 0:
        return components, false
    if on_background_only:
        truth = instances > 0
    else:
        truth = np.isin(instances, objects["id"][objects["cls"] == CLUSTER])
    near_truth = ndimage.binary_dilation(truth, structure=EIGHT_CONNECTED)
    false[components[near_truth]] = False
    return components, false


def object_recall(pred, instances, objects, cls, *, min_fraction=0.5) -> np.ndarray:
    """Which objects of class ``cls`` have most of their footprint predicted as ``cls``.

    Parameters
    ----------
    pred, instances : array_like of int, shape (N, H, W) or (H, W)
    objects : structured ndarray
        Objects table (fields ``image``, ``id``, ``cls``).
    cls : int
        Class id (e.g. :data:`ccdnb.classes.HOT_PIXEL` or ``GLOWING``).
    min_fraction : float
        An object is recalled when strictly more than this share of its
        footprint pixels is predicted as ``cls``.

    Returns
    -------
    ndarray of bool
        One flag per object of class ``cls`` with a non-empty footprint (objects
        whose footprint is empty have no pixel to recall and are left out).
    """
    pred, instances = _stack(pred), _stack(instances)
    chosen = _objects_of(objects, cls)
    flags = []
    for image in np.unique(chosen["image"]):
        ids = chosen["id"][chosen["image"] == image]
        size = _footprint_counts(instances[image], slice(None))
        right = _footprint_counts(instances[image], pred[image] == cls)
        right = np.pad(right, (0, size.size - right.size))
        ids = ids[(ids < size.size)]
        ids = ids[size[ids] > 0]
        flags.append(right[ids] > min_fraction * size[ids])
    return np.concatenate(flags) if flags else np.zeros(0, dtype=bool)


def significance_map(image, meta=None) -> np.ndarray:
    """Pixel significance ``(x - pedestal_row) / noise`` in read-noise sigma.

    Parameters
    ----------
    image : array_like, shape (H, W)
        Raw ADU, pedestal included.
    meta : dict, optional
        The simulation's parameters of this image. When it holds both the true
        per-row pedestal (``row_pedestal_adu``, H values) and the read noise
        (``read_noise_adu``), those are used; otherwise both come from the image
        itself (:func:`ccdnb.normalize.estimate_background`).

    Returns
    -------
    ndarray of float64, shape (H, W)
        Non-finite pixels come out as 0 (no signal).
    """
    x = np.asarray(image, dtype=np.float64)
    pedestal = noise = None
    if meta:
        rows, sigma = meta.get("row_pedestal_adu"), meta.get("read_noise_adu")
        if rows is not None and sigma and np.size(rows) == x.shape[0]:
            pedestal, noise = np.asarray(rows, dtype=np.float64), float(sigma)
    if pedestal is None:
        from ..normalize import estimate_background

        pedestal, noise = estimate_background(x)
    z = (x - np.asarray(pedestal, dtype=np.float64)[:, None]) / noise
    z[~np.isfinite(z)] = 0.0
    return z


def signal_lost(images, pred, *, meta=None, labels=None, threshold=SIGNAL_SIGMA) -> dict:
    """Groups of significant pixels that the prediction labels background throughout.

    A group is a connected set (8-connectivity) of pixels standing at or above
    ``threshold`` sigma above the background (:func:`significance_map`); it is
    **lost** when every one of its pixels is predicted background.

    Parameters
    ----------
    images : array_like, shape (N, H, W) or (H, W)
        Raw ADU images.
    pred : array_like of int, shape like ``images``
        Predicted class masks.
    meta : dict or sequence of dict, optional
        Per-image simulation parameters (see :func:`significance_map`); one dict
        for a single image.
    labels : array_like of int, shape like ``images``, optional
        Truth class masks: the lost groups are then also counted by the truth
        class they hold (the highest priority class among their pixels).
    threshold : float
        Significance of a signal pixel (read-noise sigma).

    Returns
    -------
    dict
        ``threshold_sigma``, ``groups`` (significant groups), ``lost`` (groups
        predicted background throughout), ``share`` (``lost / groups``, NaN
        without groups) and, with ``labels``, ``lost_by_truth``: class name ->
        lost groups whose highest truth class is that class (``background``:
        noise fluctuations or unlabelled charge such as dark current).
    """
    images, pred = _stack(images), _stack(pred)
    if images.shape != pred.shape:
        raise ValueError(f"images {images.shape} and prediction {pred.shape} differ in shape")
    if meta is None or isinstance(meta, dict):
        meta = [meta] * images.shape[0]
    labels = None if labels is None else _stack(labels)
    rank = np.zeros(len(PRIORITY), dtype=np.intp)  # class id -> priority rank (higher wins)
    rank[list(PRIORITY)] = np.arange(len(PRIORITY))[::-1]
    groups = lost = object_groups = object_lost = 0
    lost_by = np.zeros(len(CLASS_NAMES), dtype=np.int64)
    for k in range(images.shape[0]):
        significant = significance_map(images[k], meta[k]) >= threshold
        groups_k, n = label_groups(significant)
        if n == 0:
            continue
        seen = np.bincount(groups_k[significant & (pred[k] != BACKGROUND)], minlength=n + 1)
        lost_ids = np.flatnonzero(seen[1:] == 0) + 1
        groups += n
        lost += lost_ids.size
        if labels is not None:  # groups holding a simulated object, not noise or dark charge
            holds_object = np.bincount(groups_k[labels[k] != BACKGROUND], minlength=n + 1) > 0
            object_groups += int(holds_object[1:].sum())
            object_lost += int(holds_object[lost_ids].sum())
        if labels is not None and lost_ids.size:
            inside = np.isin(groups_k, lost_ids)
            best = np.zeros(n + 1, dtype=np.intp)
            np.maximum.at(best, groups_k[inside], rank[labels[k][inside]])
            order = np.asarray(PRIORITY)[::-1]  # rank -> class id
            lost_by += np.bincount(order[best[lost_ids]], minlength=len(CLASS_NAMES))
    result = {"threshold_sigma": float(threshold), "groups": int(groups), "lost": int(lost),
              "share": lost / groups if groups else np.nan}
    if labels is not None:
        result["lost_by_truth"] = {name: int(c) for name, c in zip(CLASS_NAMES, lost_by)}
        result.update(object_groups=object_groups, object_lost=object_lost,
                      object_share=object_lost / object_groups if object_groups else np.nan)
    return result
