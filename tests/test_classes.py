"""The class conventions other parts rely on (DESIGN.md)."""

import numpy as np

from ccdnb import classes
from ccdnb.plots import class_cmap, class_norm


def test_ids_names_and_priority():
    assert classes.CLASS_IDS == (0, 1, 2, 3)
    assert classes.CLASS_NAMES == ("background", "glowing", "hot pixel", "cluster")
    assert classes.PRIORITY[0] == classes.HOT_PIXEL
    assert classes.PRIORITY.index(classes.CLUSTER) < classes.PRIORITY.index(classes.GLOWING)


def test_colour_map_gives_each_class_its_thesis_colour():
    rgba = class_cmap()(class_norm()(np.arange(4)))
    np.testing.assert_allclose(rgba[:, :3], np.asarray(classes.CLASS_COLOURS))
