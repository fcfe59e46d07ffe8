"""Pixel and event metrics on hand-made truth/prediction pairs."""

import csv
import json
from types import SimpleNamespace

import numpy as np
import pytest

from ccdnb.classes import BACKGROUND, CLUSTER, GLOWING, HOT_PIXEL
from ccdnb.evaluation import events, report

# The objects table layout of docs/internals.md ("Simulated data").
OBJECT_DTYPE = np.dtype([("image", "i4"), ("id", "i4"), ("cls", "u1"), ("kind", "U16"),
                         ("energy_kev", "f4"), ("x", "f4"), ("y", "f4"),
                         ("peak_sigma", "f4"), ("npix", "i4")])


def make_objects(rows):
    """rows: (image, id, cls, energy_kev, peak_sigma)."""
    table = np.zeros(len(rows), dtype=OBJECT_DTYPE)
    for i, (image, ident, cls, energy, peak) in enumerate(rows):
        table[i]["image"], table[i]["id"], table[i]["cls"] = image, ident, cls
        table[i]["energy_kev"], table[i]["peak_sigma"] = energy, peak
    return table


def test_report_matches_hand_computed_precision_recall_f1(tmp_path):
    truth = np.array([[0, 0, 0, 0, 3, 3, 3, 2, 1, 1]])
    pred = np.array([[0, 0, 0, 3, 3, 3, 0, 2, 1, 1]])
    class_report = report.classification_report_dict(truth, pred)
    # cluster: 3 true, 3 predicted, 2 right -> precision 2/3, recall 2/3, F1 2/3
    assert class_report["cluster"]["precision"] == pytest.approx(2 / 3)
    assert class_report["cluster"]["recall"] == pytest.approx(2 / 3)
    assert class_report["cluster"]["f1-score"] == pytest.approx(2 / 3)
    assert class_report["cluster"]["support"] == 3
    # background: 4 true, 4 predicted (one of them a missed cluster pixel), 3 right
    assert class_report["background"]["precision"] == pytest.approx(3 / 4)
    assert class_report["background"]["recall"] == pytest.approx(3 / 4)
    assert class_report["hot pixel"]["f1-score"] == 1.0
    assert class_report["accuracy"] == pytest.approx(8 / 10)

    text_path, csv_path = report.save_classification_report(truth, pred, tmp_path, name="r")
    assert "hot pixel" in text_path.read_text()
    with open(csv_path) as handle:
        rows = {row["class"]: row for row in csv.DictReader(handle)}
    assert float(rows["cluster"]["recall"]) == pytest.approx(2 / 3)
    assert int(rows["glowing"]["support"]) == 2
    assert float(rows["accuracy"]["f1-score"]) == pytest.approx(0.8)


def test_report_has_every_class_even_when_one_is_absent():
    truth = np.zeros((4, 4), dtype=np.uint8)
    pred = truth.copy()
    pred[0, 0] = CLUSTER
    class_report = report.classification_report_dict(truth, pred)
    assert class_report["glowing"] == {"precision": 0.0, "recall": 0.0, "f1-score": 0.0,
                                       "support": 0.0}
    assert class_report["cluster"]["precision"] == 0.0
    assert class_report["accuracy"] == pytest.approx(15 / 16)


def test_loss_and_accuracy_from_probabilities():
    truth = np.array([0, 3])
    probs = np.array([[0.5, 0.2, 0.2, 0.1], [0.1, 0.1, 0.6, 0.2]])
    scores = report.loss_and_accuracy(truth, probs)
    assert scores["loss"] == pytest.approx(-(np.log(0.5) + np.log(0.2)) / 2)
    assert scores["accuracy"] == 0.5
    weighted = report.loss_and_accuracy(truth, probs, class_weights=[1.0, 1.0, 1.0, 3.0])
    assert weighted["loss"] == pytest.approx(-(np.log(0.5) + 3 * np.log(0.2)) / 2)


def three_clusters_two_hit():
    instances = np.zeros((1, 20, 20), dtype=np.int32)
    instances[0, 2:4, 2:4] = 1
    instances[0, 10:12, 10:12] = 2
    instances[0, 16:18, 3:5] = 3
    objects = make_objects([(0, 1, CLUSTER, 2.0, 4.0), (0, 2, CLUSTER, 20.0, 50.0),
                            (0, 3, CLUSTER, 200.0, 200.0)])
    pred = np.zeros_like(instances, dtype=np.uint8)
    pred[0, 3, 3] = CLUSTER                  # one pixel on cluster 1
    pred[0, 10:12, 10:13] = CLUSTER          # cluster 2 and a pixel beside it
    pred[0, 16:18, 3:5] = HOT_PIXEL          # cluster 3 taken for a hot pixel
    return pred, instances, objects


def test_cluster_efficiency_three_clusters_two_hit():
    pred, instances, objects = three_clusters_two_hit()
    found, clusters = events.cluster_detection(pred, instances, objects)
    assert found.tolist() == [True, True, False]
    assert found.mean() == pytest.approx(2 / 3)
    table = events.efficiency_table(found, clusters["peak_sigma"], (0, 10, 100, np.inf))
    assert [(r["n"], r["found"]) for r in table] == [(1, 1), (1, 1), (1, 0)]
    assert table[2]["efficiency"] == 0.0
    empty = events.efficiency_table(found, clusters["peak_sigma"], (1000, 2000))
    assert empty[0]["n"] == 0 and np.isnan(empty[0]["efficiency"])


def test_false_cluster_components():
    instances = np.zeros((2, 16, 16), dtype=np.int32)
    instances[0, 4:6, 4:6] = 1
    objects = make_objects([(0, 1, CLUSTER, 5.0, 20.0)])
    pred = np.zeros((2, 16, 16), dtype=np.uint8)
    pred[0, 4:6, 4:7] = CLUSTER     # on the true cluster: not false
    pred[0, 3, 3] = CLUSTER         # diagonal neighbour of the footprint: touches it
    pred[0, 12, 12] = CLUSTER       # alone: false
    pred[0, 0, 10] = pred[0, 1, 11] = CLUSTER  # one 8-connected component: false
    pred[1, 8, 8] = CLUSTER         # image without clusters: false
    assert events.false_cluster_components(pred, instances, objects) == 3


def test_object_recall_needs_more_than_half_of_the_footprint():
    instances = np.zeros((1, 10, 10), dtype=np.int32)
    instances[0, :, 0] = 1          # hot column, 10 pixels
    instances[0, :, 5] = 2          # hot column, 10 pixels
    instances[0, :4, 7:] = 3        # glow, 12 pixels
    objects = make_objects([(0, 1, HOT_PIXEL, np.nan, 100.0), (0, 2, HOT_PIXEL, np.nan, 100.0),
                            (0, 3, GLOWING, np.nan, 2.0), (0, 4, HOT_PIXEL, np.nan, 0.5)])
    pred = np.zeros((1, 10, 10), dtype=np.uint8)
    pred[0, :6, 0] = HOT_PIXEL      # 6/10: recalled
    pred[0, :5, 5] = HOT_PIXEL      # 5/10: not more than half
    pred[0, :4, 7:] = GLOWING
    pred[0, 0, 7] = CLUSTER         # 11/12 glowing: recalled
    hot = events.object_recall(pred, instances, objects, HOT_PIXEL)
    assert hot.tolist() == [True, False]  # object 4 has no footprint and is left out
    assert events.object_recall(pred, instances, objects, GLOWING).tolist() == [True]


def test_evaluate_dataset_perfect_and_empty_predictors(tmp_path):
    pred, instances, objects = three_clusters_two_hit()
    labels = np.where(instances > 0, CLUSTER, BACKGROUND).astype(np.uint8)
    dataset = SimpleNamespace(images=labels.astype(np.float32), labels=labels,
                              instances=instances, objects=objects)
    perfect = report.evaluate_dataset(lambda image: image.astype(np.uint8), dataset)
    assert perfect["f1"]["cluster"] == 1.0
    assert perfect["cluster_efficiency"] == 1.0
    assert perfect["false_clusters"] == 0
    assert perfect["hot_pixel_recall"] is None  # no hot pixel object at all

    blind = report.evaluate_dataset(lambda image: np.zeros(image.shape, np.uint8), dataset)
    assert blind["cluster_efficiency"] == 0.0
    assert blind["f1"]["cluster"] == 0.0

    path = report.save_metrics(tmp_path / "m.json", {"model": perfect, "baseline": blind})
    loaded = json.loads(path.read_text())  # strict JSON: NaN must have become null
    by_significance = loaded["baseline"]["cluster_efficiency_by_significance"]
    assert by_significance[0]["n"] == 0 and by_significance[0]["efficiency"] is None
    assert by_significance[1]["n"] == 1  # the 4-sigma cluster is in the 3-5 sigma bin
    assert loaded["model"]["false_clusters_per_mpix"] == 0.0


def test_predict_dataset_collects_probabilities():
    images = np.zeros((2, 4, 4), dtype=np.float32)
    probs = np.zeros((4, 4, 4), dtype=np.float32)
    probs[..., 0] = 1.0
    masks, p = report.predict_dataset(lambda im: (np.zeros(im.shape, np.uint8), probs), images,
                                        with_probabilities=True)
    assert masks.shape == (2, 4, 4) and p.shape == (2, 4, 4, 4)


def test_confusion_matrix_rows_are_shares_of_the_true_class(tmp_path):
    from ccdnb.plots import save_figure
    from ccdnb.plots.evaluation import (
        normalized_confusion_matrix,
        plot_cluster_efficiency,
        plot_confusion_matrices,
    )

    pred, instances, objects = three_clusters_two_hit()
    truth = np.where(instances > 0, CLUSTER, BACKGROUND)
    matrix = normalized_confusion_matrix(truth, pred)
    assert matrix[CLUSTER, CLUSTER] == pytest.approx(5 / 12)  # 1 + 4 of 12 pixels
    assert matrix[CLUSTER, HOT_PIXEL] == pytest.approx(4 / 12)
    assert np.allclose(matrix[[BACKGROUND, CLUSTER]].sum(axis=1), 1.0)
    assert np.all(matrix[[GLOWING, HOT_PIXEL]] == 0)

    dataset = SimpleNamespace(images=truth.astype(np.float32), labels=truth.astype(np.uint8),
                              instances=instances, objects=objects)
    metrics = report.evaluate_predictions(dataset, pred)
    fig = plot_confusion_matrices(truth, {"model": pred, "baseline": truth})
    assert save_figure(fig, tmp_path, "cm.png").stat().st_size > 0
    fig = plot_cluster_efficiency({"model": metrics})
    assert save_figure(fig, tmp_path, "eff.png").stat().st_size > 0


def test_model_vs_baseline_names_the_better_predictor():
    def metrics(f1_cluster, false_rate):
        return {"f1": {"background": 1.0, "glowing": 0.9, "hot pixel": 0.8, "cluster": f1_cluster},
                "cluster_efficiency": 0.7, "false_clusters_per_mpix": false_rate,
                "hot_pixel_recall": None, "glowing_recall": 1.0}

    rows = {r["metric"]: r["better"]
            for r in report.model_vs_baseline(metrics(0.6, 10.0), metrics(0.4, 2.0))}
    assert rows["F1 cluster"] == "U-Net"
    assert rows["false_clusters_per_mpix"] == "baseline"  # fewer is better
    assert rows["F1 background"] == "tie"
    assert rows["hot_pixel_recall"] == "n/a"


def test_table1_side_by_side_puts_the_thesis_beside_each_label_convention():
    truth = np.zeros((2, 8, 8), np.uint8)
    truth[:, :, :2] = 1
    truth[0, 4, 4] = 3
    pred = truth.copy()
    pred[0, 4, 4] = 0                                  # one cluster pixel missed
    rows = report.table1_side_by_side({
        "threshold labels": report.classification_report_dict(truth, truth),
        "truth": report.classification_report_dict(truth, pred)})
    by_class = {row["class"]: row for row in rows}
    assert list(by_class) == ["background", "glowing", "hot pixel", "cluster"]
    assert by_class["cluster"]["thesis F1"] == 0.52
    assert by_class["background"]["thesis support"] == 2535931
    assert by_class["cluster"]["threshold labels F1"] == 1.0
    assert by_class["cluster"]["truth R"] == 0.0 and by_class["cluster"]["truth support"] == 1
    assert by_class["glowing"]["truth support"] == 32
