"""The section viewer's logic: navigation, overlays and text, driven without a browser."""

import numpy as np
import pytest

from ccdnb.classes import CLASS_COLOURS, CLUSTER, GLOWING, HOT_PIXEL
from ccdnb.plots.inference import class_overlay
from ccdnb.widgets import SectionViewer, render_png, viewer_widget


def _viewer(**kwargs):
    """A 3 x 4 grid of 32-pixel sections, the last row and column 20 pixels."""
    label = np.zeros((84, 116), dtype=np.uint8)
    label[5, 40] = CLUSTER                 # section 1
    label[40:44, 70:74] = CLUSTER          # section 6 (16 pixels)
    label[70, 100] = CLUSTER               # section 11 (the 20 x 20 corner)
    label[:, 0:3] = GLOWING                # sections 0, 4, 8
    label[33, 50] = HOT_PIXEL              # section 5
    image = np.random.default_rng(0).normal(1000.0, 5.0, label.shape).astype(np.float32)
    return SectionViewer(image, label, section_size=32, **kwargs)


def test_viewer_starts_on_the_first_section_of_the_chosen_class():
    viewer = _viewer()
    assert len(viewer.sections) == 12
    assert viewer.matching == [1, 6, 11]
    assert viewer.index == 1


def test_next_and_prev_step_through_class_sections_and_wrap_around():
    viewer = _viewer()
    assert [viewer.next().index for _ in range(3)] == [6, 11, 1]
    assert [viewer.prev().index for _ in range(3)] == [11, 6, 1]


def test_without_wrapping_the_ends_clamp():
    viewer = _viewer(wrap=False)
    assert viewer.prev().index == 1
    viewer.select(11)
    assert viewer.next().index == 11


def test_stepping_from_a_section_chosen_on_the_slider():
    viewer = _viewer()
    viewer.select(3)                       # holds no cluster
    assert viewer.next().index == 6
    viewer.select(3)
    assert viewer.prev().index == 1
    with pytest.raises(IndexError):
        viewer.select(12)


def test_minimum_pixel_count_and_class_change():
    viewer = _viewer(min_pixels=2)
    assert viewer.matching == [6]
    assert viewer.next().index == 6
    assert viewer.set_class("glowing").index == 8   # 6 holds no glow: on to the next that does
    assert viewer.next().index == 0
    assert viewer.set_class("glowing").index == 0   # already on a glowing section: stays


def test_without_any_section_of_the_class_the_viewer_stays_and_says_so():
    viewer = _viewer(cls="hot pixel", min_pixels=5)
    viewer.select(2)
    assert viewer.next().index == 2 and viewer.prev().index == 2
    assert "no section holds hot pixel" in viewer.description()


def test_description_gives_coordinates_place_and_percentages():
    viewer = _viewer()
    viewer.select(11)
    lines = viewer.description().splitlines()
    assert "x 96-115, y 64-83" in lines[0]
    assert "cluster section 3 of 3" in lines[1]
    assert "400 pixels" in lines[2] and "cluster 0.25%" in lines[2]
    viewer.select(3)
    assert "no cluster here; 3 sections hold cluster" in viewer.description()


def test_overlay_colours_only_the_visible_classes_with_their_alpha():
    viewer = _viewer(visible=("cluster",), alpha=0.4)
    viewer.select(4)                       # glowing columns 0-2, nothing else
    assert viewer.overlay().shape == (32, 32, 4)
    assert not viewer.overlay().any()      # glowing hidden: fully transparent
    viewer.set_visible("glowing")
    overlay = viewer.overlay()
    np.testing.assert_allclose(overlay[:, :3], np.broadcast_to((*CLASS_COLOURS[GLOWING], 0.4),
                                                               (32, 3, 4)))
    assert not overlay[:, 3:].any()
    viewer.select(6)
    state = viewer.state()
    np.testing.assert_allclose(state.overlay[8, 6], (*CLASS_COLOURS[CLUSTER], 0.4))
    viewer.set_visible(CLUSTER, False)
    assert not viewer.overlay().any()


def test_class_overlay_refuses_an_opacity_outside_0_to_1():
    with pytest.raises(ValueError):
        class_overlay(np.zeros((2, 2), np.uint8), alpha=1.5)


def test_widget_and_picture_build_without_a_front_end():
    viewer = _viewer()
    assert render_png(viewer, size=2, dpi=40).startswith(b"\x89PNG")
    box = viewer_widget(viewer)
    slider, controls = box.children[0], box.children[1]
    next_button = controls.children[2]
    next_button.click()
    assert viewer.index == 6 and slider.value == 6
    slider.value = 2
    assert viewer.index == 2
    assert "x 64-95, y 0-31" in box.children[3].value
