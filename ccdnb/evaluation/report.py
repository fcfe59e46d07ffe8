"""Pixel-level evaluation of a class mask against the simulation's truth.

The thesis judged its network by the classification report of its Table 1
(per-class precision, recall, F1 and support over all test pixels). This module
computes that report with scikit-learn, the Keras-style loss and accuracy from
predicted probabilities, and, through :mod:`ccdnb.evaluation.events`, the event-level
numbers a physicist needs (cluster detection efficiency, false clusters,
per-object recall). :func:`evaluate_dataset` is the one code path shared by
notebook 05 and the benchmark scripts.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ..classes import CLASS_IDS, CLASS_NAMES, GLOWING, HOT_PIXEL, N_CLASSES
from ..io.atomic import jsonable, write_json_atomic
from . import events

__all__ = ["THESIS_TABLE1", "THESIS_SUPPORT", "SUMMARY_ROWS", "EPSILON",
           "classification_report_dict", "classification_report_text", "format_report",
           "report_rows", "save_classification_report", "write_csv", "per_class_f1",
           "loss_and_accuracy", "thesis_comparison", "table1_side_by_side", "compare_reports",
           "EVENT_METRICS", "model_vs_baseline", "format_table", "predict_dataset",
           "evaluate_predictions", "evaluate_dataset", "baseline_at_false_rate",
           "format_kind_table", "format_signal_lost", "headline_metrics", "save_metrics"]

#: The thesis's Table 1 (precision, recall, F1 per class) on its simulated test set.
THESIS_TABLE1 = {
    "background": (1.00, 0.99, 1.00),
    "glowing": (1.00, 1.00, 1.00),
    "hot pixel": (0.99, 0.98, 0.95),
    "cluster": (0.44, 0.63, 0.52),
}

#: The pixels of each class in the thesis's 42 test images (Table 1's support).
THESIS_SUPPORT = {"background": 2535931, "glowing": 187442, "hot pixel": 10594, "cluster": 18545}

#: Rows of the classification report besides the classes.
SUMMARY_ROWS = ("macro avg", "weighted avg")

#: Probabilities are clipped to [EPSILON, 1 - EPSILON] before the log, as Keras does.
EPSILON = 1e-7


def classification_report_dict(truth, pred) -> dict:
    """Per-class precision, recall, F1 and support over all pixels (thesis Table 1).

    Parameters
    ----------
    truth, pred : array_like of int
        Truth and predicted class masks of the same shape (any number of images).

    Returns
    -------
    dict
        scikit-learn's ``classification_report(..., output_dict=True)`` with
        ``labels=[0, 1, 2, 3]``, the class names as keys and ``zero_division=0``:
        one entry per class name plus ``accuracy``, ``macro avg`` and ``weighted avg``;
        supports are integer pixel counts.
    """
    from sklearn.metrics import classification_report

    # scikit-learn is given the 16 (truth, prediction) pairs weighted by their
    # pixel counts: the same report as from every pixel, in milliseconds
    # instead of over a minute for a few hundred images.
    pair_truth, pair_pred, counts = _class_pairs(truth, pred)
    report = classification_report(pair_truth, pair_pred, labels=list(CLASS_IDS),
                                   target_names=list(CLASS_NAMES), zero_division=0,
                                   sample_weight=counts, output_dict=True)
    # With every label present scikit-learn reports "accuracy"; with a label
    # missing from both it reports "micro avg" instead. Keep the keys fixed.
    report.pop("micro avg", None)
    total = int(counts.sum())
    agree = int(counts[pair_truth == pair_pred].sum())
    report["accuracy"] = agree / total if total else 0.0
    for name in list(CLASS_NAMES) + list(SUMMARY_ROWS):
        report[name]["support"] = int(round(report[name]["support"]))
    return report


def classification_report_text(truth, pred, *, digits=2) -> str:
    """The classification report as a text table in scikit-learn's layout."""
    return format_report(classification_report_dict(truth, pred), digits=digits)


def format_report(report: dict, *, digits=2) -> str:
    """Lay out a :func:`classification_report_dict` as scikit-learn's text table."""
    names = list(CLASS_NAMES) + list(SUMMARY_ROWS)
    width = max(len(n) for n in names)
    head = f"{'':>{width}s} " + " ".join(f"{h:>9}" for h in
                                          ("precision", "recall", "f1-score", "support"))
    lines = [head, ""]
    row = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}"
    for name in CLASS_NAMES:
        e = report[name]
        lines.append(row.format(name, e["precision"], e["recall"], e["f1-score"], e["support"],
                                width=width, digits=digits))
    lines.append("")
    support = report["weighted avg"]["support"]
    lines.append(f"{'accuracy':>{width}s} " + " " * 20 +
                 f" {report['accuracy']:>9.{digits}f} {support:>9}")
    for name in SUMMARY_ROWS:
        e = report[name]
        lines.append(row.format(name, e["precision"], e["recall"], e["f1-score"], e["support"],
                                width=width, digits=digits))
    return "\n".join(lines) + "\n"


def report_rows(report: dict) -> list[dict]:
    """Rows ``class, precision, recall, f1-score, support`` of a report dict.

    The four classes first, then the macro and weighted averages and the accuracy.
    """
    rows = []
    for name in list(CLASS_NAMES) + list(SUMMARY_ROWS):
        entry = report[name]
        rows.append({"class": name, "precision": entry["precision"], "recall": entry["recall"],
                     "f1-score": entry["f1-score"], "support": int(entry["support"])})
    support = int(report["weighted avg"]["support"])
    rows.append({"class": "accuracy", "precision": "", "recall": "",
                 "f1-score": report["accuracy"], "support": support})
    return rows


def save_classification_report(truth, pred, out_dir, *, name="05_classification_report",
                               digits=2) -> tuple[Path, Path]:
    """Write the classification report as ``out_dir/name.txt`` and ``out_dir/name.csv``.

    Parameters
    ----------
    truth, pred : array_like of int
        Truth and predicted class masks of the same shape.
    out_dir : str or Path
        Folder to write into (created if needed).
    name : str
        File stem.
    digits : int
        Decimals of the text table (the CSV keeps full precision).

    Returns
    -------
    (Path, Path)
        The text and CSV paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text_path, csv_path = out / f"{name}.txt", out / f"{name}.csv"
    text_path.write_text(classification_report_text(truth, pred, digits=digits))
    write_csv(report_rows(classification_report_dict(truth, pred)), csv_path)
    return text_path, csv_path


def write_csv(rows, path) -> Path:
    """Write a list of dicts (same keys) as a CSV file with a header; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
    return path


def per_class_f1(report: dict) -> dict:
    """``{class name: F1}`` from a classification report dict."""
    return {name: float(report[name]["f1-score"]) for name in CLASS_NAMES}


def loss_and_accuracy(truth, probabilities, *, class_weights=None) -> dict:
    """Categorical cross-entropy and accuracy as Keras's ``model.evaluate`` reports them.

    Computed from the probabilities of the prediction path (tiling, stitching),
    so they describe what ``ccdnb predict`` outputs.

    Parameters
    ----------
    truth : array_like of int, shape (...)
        Truth class mask(s).
    probabilities : array_like of float, shape (..., 4)
        Predicted class probabilities per pixel.
    class_weights : sequence of 4 floats, optional
        Per-class weights of the loss (each pixel weighted by its true class,
        averaged over all pixels as Keras does with sample weights).

    Returns
    -------
    dict
        ``loss`` (mean of ``-w log p_true``, probabilities renormalised and
        clipped to ``[1e-7, 1 - 1e-7]``) and ``accuracy`` (share of pixels whose
        most probable class is the true one).
    """
    truth = np.asarray(truth).reshape(-1).astype(np.intp)
    probs = np.asarray(probabilities, dtype=np.float64).reshape(truth.size, -1)
    probs = probs / np.sum(probs, axis=1, keepdims=True)
    p_true = np.clip(probs[np.arange(truth.size), truth], EPSILON, 1.0 - EPSILON)
    loss = -np.log(p_true)
    if class_weights is not None:
        loss = loss * np.asarray(class_weights, dtype=np.float64)[truth]
    return {"loss": float(loss.mean()),
            "accuracy": float(np.mean(np.argmax(probs, axis=1) == truth))}


def thesis_comparison(report: dict) -> list[dict]:
    """Our precision, recall and F1 beside the thesis's Table 1, one row per class."""
    rows = []
    for name in CLASS_NAMES:
        ours = report[name]
        thesis = THESIS_TABLE1[name]
        rows.append({"class": name,
                     "precision": ours["precision"], "thesis precision": thesis[0],
                     "recall": ours["recall"], "thesis recall": thesis[1],
                     "f1-score": ours["f1-score"], "thesis f1-score": thesis[2]})
    return rows


def table1_side_by_side(reports: dict) -> list[dict]:
    """The thesis's Table 1 beside ours scored against several label conventions.

    Parameters
    ----------
    reports : dict
        Convention name (e.g. ``"threshold labels"``, ``"truth"``) -> classification
        report dict (:func:`classification_report_dict`) of the same predictions.

    Returns
    -------
    list of dict
        One row per class: ``class``, then ``thesis P/R/F1/support`` and
        ``<convention> P/R/F1/support`` for each convention.
    """
    rows = []
    for cls in CLASS_NAMES:
        precision, recall, f1 = THESIS_TABLE1[cls]
        row = {"class": cls, "thesis P": precision, "thesis R": recall, "thesis F1": f1,
               "thesis support": THESIS_SUPPORT[cls]}
        for name, report in reports.items():
            entry = report[cls]
            row.update({f"{name} P": entry["precision"], f"{name} R": entry["recall"],
                        f"{name} F1": entry["f1-score"], f"{name} support": int(entry["support"])})
        rows.append(row)
    return rows


def compare_reports(metrics_by_name: dict) -> list[dict]:
    """Per-class precision / recall / F1 of several predictors side by side.

    Parameters
    ----------
    metrics_by_name : dict
        Predictor name -> metrics of :func:`evaluate_predictions`.

    Returns
    -------
    list of dict
        One row per class: ``class`` and ``<name> P``, ``<name> R``, ``<name> F1``
        for each predictor.
    """
    rows = []
    for cls in CLASS_NAMES:
        row = {"class": cls}
        for name, metrics in metrics_by_name.items():
            entry = metrics["classification_report"][cls]
            row.update({f"{name} P": entry["precision"], f"{name} R": entry["recall"],
                        f"{name} F1": entry["f1-score"]})
        rows.append(row)
    return rows


#: Event-level metrics compared by :func:`model_vs_baseline`, and whether higher is better.
EVENT_METRICS = (("cluster_efficiency", True), ("false_clusters_per_mpix", False),
                 ("hot_pixel_recall", True), ("glowing_recall", True))


def model_vs_baseline(model: dict, baseline: dict, *, names=("U-Net", "baseline")) -> list[dict]:
    """Which of two predictors does better on each class F1 and event metric.

    Parameters
    ----------
    model, baseline : dict
        Metrics of :func:`evaluate_predictions`.
    names : (str, str)
        Column names of the two predictors.

    Returns
    -------
    list of dict
        Rows ``metric``, one column per predictor and ``better`` (the better
        one's name, ``"tie"`` within 0.005, ``"n/a"`` when undefined).
    """
    pairs = [(f"F1 {cls}", model["f1"][cls], baseline["f1"][cls], True) for cls in CLASS_NAMES]
    pairs += [(key, model[key], baseline[key], higher) for key, higher in EVENT_METRICS]
    rows = []
    for metric, a, b, higher in pairs:
        if a is None or b is None:
            better = "n/a"
        elif abs(a - b) < 0.005:
            better = "tie"
        else:
            better = names[0] if (a > b) == higher else names[1]
        rows.append({"metric": metric, names[0]: a, names[1]: b, "better": better})
    return rows


def format_table(rows, *, floatfmt=".2f") -> str:
    """A list of dicts as an aligned plain-text table (header from the first row)."""
    if not rows:
        return ""
    columns = list(rows[0])

    def cell(value):
        if isinstance(value, float):
            return "nan" if math.isnan(value) else format(value, floatfmt)
        return "" if value is None else str(value)

    table = [columns] + [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    lines = ["  ".join(v.rjust(w) if i else v.ljust(w)
                       for i, (v, w) in enumerate(zip(line, widths)))
             for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def predict_dataset(predict_fn, images, *, with_probabilities=False):
    """Apply ``predict_fn`` to every image.

    Parameters
    ----------
    predict_fn : callable
        ``image (H, W) -> mask (H, W)``, or ``-> (mask, probabilities (H, W, 4))``
        when ``with_probabilities``.
    images : array_like, shape (N, H, W)
    with_probabilities : bool
        Also collect the probabilities.

    Returns
    -------
    masks : ndarray, shape (N, H, W), uint8
    probabilities : ndarray, shape (N, H, W, 4), float32
        Only when ``with_probabilities``.
    """
    masks, probs = [], []
    for image in images:
        result = predict_fn(image)
        if with_probabilities:
            mask, p = result
            probs.append(np.asarray(p, dtype=np.float32))
        else:
            mask = result
        masks.append(np.asarray(mask, dtype=np.uint8))
    masks = np.stack(masks) if masks else np.zeros((0,) + np.shape(images)[1:], np.uint8)
    if with_probabilities:
        return masks, np.stack(probs)
    return masks


def evaluate_predictions(dataset, masks, *, probabilities=None,
                         significance_bins=events.SIGNIFICANCE_BINS,
                         energy_bins=events.ENERGY_BINS_KEV) -> dict:
    """All metrics of predicted masks on a simulated dataset, JSON-serialisable.

    Parameters
    ----------
    dataset : ccdnb.simulation.Dataset
        Anything with ``labels`` (N, H, W), ``instances`` (N, H, W) and ``objects``
        (structured array with at least ``image``, ``id``, ``cls``, ``energy_kev``,
        ``peak_sigma``).
    masks : array_like of int, shape (N, H, W)
        Predicted class masks.
    probabilities : array_like, shape (N, H, W, 4), optional
        Adds ``loss`` and ``accuracy`` as ``model.evaluate`` would report them.
    significance_bins, energy_bins : sequence of float
        Bin edges of the cluster detection efficiency.

    Returns
    -------
    dict
        ``classification_report`` (see :func:`classification_report_dict`),
        ``f1`` (class name -> F1), ``cluster_efficiency`` (found / all clusters),
        ``cluster_efficiency_by_significance`` and ``..._by_energy`` (rows of
        :func:`ccdnb.evaluation.events.efficiency_table`), ``n_clusters``, ``false_clusters``,
        ``false_clusters_per_mpix``, ``false_clusters_on_background_per_mpix``
        (those touching no true object of any class: fakes from noise rather than
        hot pixels or glow taken for clusters), ``hot_pixel_recall``, ``glowing_recall``
        (share of objects with most of their footprint in their class),
        ``cluster_efficiency_by_kind`` (rows of
        :func:`ccdnb.evaluation.events.kind_efficiency_table`: per object kind and per
        significance bin, the share found as cluster and as any non-background
        class), ``signal_lost`` (:func:`ccdnb.evaluation.events.signal_lost`, when the
        dataset has ``images``; the true per-row pedestal and noise from
        ``dataset.meta`` where recorded), ``n_images``, ``megapixels`` and, with
        probabilities, ``loss`` and ``accuracy``. Undefined values (an empty bin)
        are ``None``.
    """
    labels = np.asarray(dataset.labels)
    masks = np.asarray(masks)
    if masks.shape != labels.shape:
        raise ValueError(f"masks {masks.shape} and truth labels {labels.shape} differ in shape")
    instances, objects = np.asarray(dataset.instances), dataset.objects
    report = classification_report_dict(labels, masks)
    found, clusters = events.cluster_detection(masks, instances, objects)
    megapixels = labels.size / 1e6
    n_false = events.false_cluster_components(masks, instances, objects)
    metrics = {
        "classification_report": report,
        "f1": per_class_f1(report),
        "n_clusters": int(found.size),
        "cluster_efficiency": _share(found),
        "cluster_efficiency_by_significance": events.efficiency_table(
            found, clusters["peak_sigma"], significance_bins),
        "cluster_efficiency_by_energy": events.efficiency_table(
            found, clusters["energy_kev"], energy_bins),
        "false_clusters": int(n_false),
        "false_clusters_per_mpix": n_false / megapixels if megapixels else None,
        "false_clusters_on_background_per_mpix": events.false_cluster_components(
            masks, instances, objects, on_background_only=True) / megapixels
        if megapixels else None,
        "hot_pixel_recall": _share(events.object_recall(masks, instances, objects, HOT_PIXEL)),
        "glowing_recall": _share(events.object_recall(masks, instances, objects, GLOWING)),
        "cluster_efficiency_by_kind": events.kind_efficiency_table(
            masks, instances, objects, edges=significance_bins),
        "n_images": int(labels.shape[0]) if labels.ndim == 3 else 1,
        "megapixels": megapixels,
    }
    images = getattr(dataset, "images", None)
    if images is not None:
        metrics["signal_lost"] = events.signal_lost(images, masks, labels=labels,
                                                    meta=getattr(dataset, "meta", None))
    if probabilities is not None:
        metrics.update(loss_and_accuracy(labels, probabilities))
    return jsonable(metrics)


def evaluate_dataset(predict_fn, dataset, **kwargs) -> dict:
    """Predict every image of ``dataset`` with ``predict_fn`` and evaluate the masks.

    Parameters
    ----------
    predict_fn : callable
        ``image (H, W) float ADU -> class mask (H, W)``; for the U-Net, e.g.
        ``lambda im: ccdnb.predict.predict_image(model, im)``; for the classical
        baseline, :func:`ccdnb.evaluation.baseline.classify_baseline`.
    dataset : ccdnb.simulation.Dataset
        Images with their truth (``images``, ``labels``, ``instances``, ``objects``).
    **kwargs
        Passed to :func:`evaluate_predictions`.

    Returns
    -------
    dict
        See :func:`evaluate_predictions`.
    """
    return evaluate_predictions(dataset, predict_dataset(predict_fn, dataset.images), **kwargs)


def baseline_at_false_rate(dataset, target_rate, *, grow_sigmas=(2.0,), seed_range=(2.5, 40.0),
                           iterations=8, compare=(3.0, 5.0), on_background_only=False,
                           **options):
    """The classical baseline tuned to a false-cluster rate, for a fair efficiency comparison.

    For each ``grow_sigma``, the cluster seed threshold ``seed_sigma`` of
    :func:`ccdnb.evaluation.baseline.classify_baseline` is bisected (in log space, over
    ``seed_range``) for the lowest seed whose false-cluster rate on ``dataset``
    is at or below ``target_rate``: the baseline's best efficiency at no more
    false clusters than the predictor it is compared with. Among the grow
    thresholds, the one with the highest efficiency for clusters peaking in
    ``compare`` (read-noise sigma) wins.

    Parameters
    ----------
    dataset : ccdnb.simulation.Dataset
        ``images``, ``labels``, ``instances``, ``objects``.
    target_rate : float
        False clusters per megapixel to match (e.g. the model's).
    grow_sigmas : sequence of float
        Neighbour thresholds tried (each capped at the seed threshold).
    seed_range : (float, float)
        Lowest and highest seed threshold tried.
    iterations : int
        Bisection steps per grow threshold (8 give about 1.5 % in the seed).
    compare : (float, float)
        Peak-significance range whose efficiency chooses among grow thresholds.
    on_background_only : bool
        Match the rate of false clusters that touch no true object of any class
        (see :func:`ccdnb.evaluation.events.false_cluster_components`): the fakes that the
        seed threshold controls. The baseline's clusters on hot pixels and glow
        come from its class rules and do not fall with the seed threshold, so
        they can keep its full false-cluster rate above a model's at any seed.
    **options
        Other :func:`ccdnb.evaluation.baseline.classify_baseline` options, held fixed.

    Returns
    -------
    info : dict
        ``seed_sigma``, ``grow_sigma`` (the tuned thresholds),
        ``false_clusters``, ``false_clusters_per_mpix`` (reached; of the kind
        counted, see ``on_background_only``), ``on_background_only``,
        ``target_false_clusters_per_mpix``, ``reached`` (whether the rate is at
        or below the target; False when even the highest seed makes more),
        ``efficiency_compare`` (found as cluster in ``compare``, NaN without
        clusters there), ``compare_sigma`` and ``baseline_runs`` (images
        classified while tuning).
    masks : ndarray, shape (N, H, W), uint8
        The tuned baseline's masks.
    """
    from .baseline import classify_baseline

    images = np.asarray(dataset.images)
    instances, objects = np.asarray(dataset.instances), dataset.objects
    megapixels = images.size / 1e6
    runs = 0

    def attempt(seed, grow):
        nonlocal runs
        masks = predict_dataset(lambda im: classify_baseline(
            im, seed_sigma=seed, grow_sigma=min(grow, seed), **options), images)
        runs += len(images)
        false = events.false_cluster_components(masks, instances, objects,
                                                on_background_only=on_background_only)
        return false / megapixels, masks

    best = None
    for grow in grow_sigmas:
        low, high = (float(v) for v in seed_range)
        rate_low, masks_low = attempt(low, grow)
        if rate_low <= target_rate:
            seed, rate, masks = low, rate_low, masks_low
        else:
            rate_high, masks_high = attempt(high, grow)
            if rate_high > target_rate:
                seed, rate, masks = high, rate_high, masks_high
            else:
                for _ in range(int(iterations)):
                    middle = float(np.sqrt(low * high))
                    rate_mid, masks_mid = attempt(middle, grow)
                    if rate_mid <= target_rate:
                        high, rate_high, masks_high = middle, rate_mid, masks_mid
                    else:
                        low = middle
                seed, rate, masks = high, rate_high, masks_high
        found, clusters = events.cluster_detection(masks, instances, objects)
        (row,) = events.efficiency_table(found, clusters["peak_sigma"], compare)
        eff = row["efficiency"]
        score = (rate <= target_rate, -np.inf if np.isnan(eff) else eff)
        if best is None or score > best[0]:
            best = (score, seed, grow, rate, masks, eff)
    _, seed, grow, rate, masks, eff = best
    info = {"seed_sigma": seed, "grow_sigma": min(grow, seed),
            "false_clusters": int(round(rate * megapixels)),
            "false_clusters_per_mpix": rate,
            "target_false_clusters_per_mpix": float(target_rate),
            "reached": bool(rate <= target_rate),
            "on_background_only": bool(on_background_only),
            "efficiency_compare": eff, "compare_sigma": [float(v) for v in compare],
            "baseline_runs": runs}
    return info, masks


def format_kind_table(rows) -> str:
    """Per-kind efficiency rows (:func:`ccdnb.evaluation.events.kind_efficiency_table`) as text.

    Columns: kind, significance bin, clusters, found as cluster and found as any
    non-background class (count and share).
    """
    table = []
    for row in rows:
        n = row["n"]

        def share(key, row=row):
            eff = row[key]
            return "-" if eff is None or (isinstance(eff, float) and math.isnan(eff)) \
                else f"{eff:.3f}"

        table.append({"kind": row["kind"], "peak sigma": row["bin"], "n": n,
                      "as cluster": f"{row['found_as_cluster']} ({share('efficiency_cluster')})",
                      "non-background": f"{row['found_any']} ({share('efficiency_any')})"})
    return format_table(table)


def format_signal_lost(lost: dict) -> str:
    """One line for :func:`ccdnb.evaluation.events.signal_lost`'s result."""
    share = lost.get("share")
    text = (f"signal lost: {lost['lost']} of {lost['groups']} groups >= "
            f"{lost['threshold_sigma']:g} sigma predicted background throughout"
            + ("" if share is None or (isinstance(share, float) and math.isnan(share))
               else f" ({100 * share:.3f} %)"))
    if lost.get("object_groups"):
        text += (f"; of the {lost['object_groups']} groups holding a simulated object, "
                 f"{lost['object_lost']} lost ({100 * lost['object_share']:.3f} %)")
    by_truth = lost.get("lost_by_truth")
    if by_truth and lost["lost"]:
        text += "; lost by truth class: " + ", ".join(
            f"{name} {count}" for name, count in by_truth.items() if count)
    return text


def headline_metrics(metrics: dict) -> dict:
    """The few numbers the README and benchmarks quote, from :func:`evaluate_predictions`."""
    keys = ("f1", "cluster_efficiency", "cluster_efficiency_by_significance",
            "cluster_efficiency_by_energy", "cluster_efficiency_by_kind", "signal_lost",
            "false_clusters_per_mpix", "hot_pixel_recall", "glowing_recall", "loss", "accuracy")
    return {k: metrics[k] for k in keys if k in metrics}


def save_metrics(path, metrics: dict) -> Path:
    """Write ``metrics`` as strict JSON (NaN as ``null``) to ``path``; return the path."""
    return write_json_atomic(path, metrics)


def _class_pairs(truth, pred):
    """The 16 (truth, prediction) class pairs and their pixel counts (one bincount)."""
    from ..classes import confusion_counts

    truth, pred = _flat_pair(truth, pred)
    counts = confusion_counts(truth, pred).reshape(-1).astype(np.float64)
    pair_truth, pair_pred = np.divmod(np.arange(N_CLASSES * N_CLASSES), N_CLASSES)
    return pair_truth, pair_pred, counts


def _flat_pair(truth, pred):
    truth, pred = np.asarray(truth), np.asarray(pred)
    if truth.shape != pred.shape:
        raise ValueError(f"truth {truth.shape} and prediction {pred.shape} differ in shape")
    return truth.reshape(-1), pred.reshape(-1)


def _share(flags) -> float | None:
    flags = np.asarray(flags, dtype=bool)
    return float(flags.mean()) if flags.size else None
