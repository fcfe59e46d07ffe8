"""Truth from the noiseless components: the 1-sigma rule, priority and instance owners."""

import numpy as np
import pytest

from ccdnb.classes import BACKGROUND, CLUSTER, GLOWING, HOT_PIXEL
from ccdnb.simulation import label_from_components
from ccdnb.simulation.truth import Scene


def test_label_from_components_applies_one_sigma_and_priority():
    sigma = 10.0
    glow = np.array([[10.0, 9.99, 50.0, 50.0, 0.0]])
    hot = np.array([[0.0, 0.0, 10.0, 0.0, 9.0]])
    cluster = np.array([[0.0, 0.0, 30.0, 30.0, 9.0]])
    label = label_from_components({GLOWING: glow, HOT_PIXEL: hot, CLUSTER: cluster}, sigma)
    # 1 sigma is enough; just below is not; hot > cluster > glowing; no summing across classes
    assert label.tolist() == [[GLOWING, BACKGROUND, HOT_PIXEL, CLUSTER, BACKGROUND]]
    assert label.dtype == np.uint8


def test_scene_instances_follow_priority_and_brightest_owner():
    scene = Scene((6, 8), gain=1.0, read_noise=2.0)
    scene.add_box(GLOWING, "band", (0, 6), (0, 4), 5.0)       # id 1
    scene.add_box(HOT_PIXEL, "column", (0, 6), (3, 4), 100.0)  # id 2, over the glow
    scene.add_box(CLUSTER, "diffuse", (2, 4), (2, 6), 3.0)     # id 3, partly over glow and hot
    scene.add_box(CLUSTER, "diffuse", (3, 5), (5, 7), 4.0)     # id 4, brighter where they meet
    scene.add_box(CLUSTER, "diffuse", (0, 1), (6, 8), 1.0)     # below 1 sigma: dropped
    truth = scene.finalize()
    lab, inst = truth.label, truth.instances
    assert lab[0, 0] == GLOWING and inst[0, 0] == 1
    assert lab[2, 3] == HOT_PIXEL and inst[2, 3] == 2
    assert lab[2, 2] == CLUSTER and inst[2, 2] == 3  # cluster beats glowing
    assert lab[3, 5] == CLUSTER and inst[3, 5] == 4  # the brighter cluster owns the overlap
    assert lab[0, 7] == BACKGROUND and inst[0, 7] == 0
    assert list(truth.objects["id"]) == [1, 2, 3, 4]
    assert truth.objects["peak_sigma"][1] == pytest.approx(50.0)
