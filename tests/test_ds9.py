"""DS9 region files of the catalog: astropy-regions' text, read back the same."""

import numpy as np
import pytest

from ccdnb.catalog import build_catalog
from ccdnb.classes import CLUSTER
from ccdnb.io.fits import FitsImage
from ccdnb.objects.ds9 import (
    catalog_regions,
    ds9_text,
    read_region_file,
    region_labels,
    region_path,
    region_texts,
    rounded_angles,
)
from ccdnb.particles import KIND_COLOURS


def _catalog():
    rng = np.random.default_rng(0)
    image = 500.0 + rng.normal(0.0, 0.01, (80, 120))
    mask = np.zeros((80, 120), np.uint8)
    image[30, 10:30] += 50.0  # one row: a serial-register hit
    mask[30, 10:30] = CLUSTER
    image[60:63, 90:93] += 300.0  # a compact deposit
    mask[60:63, 90:93] = CLUSTER
    images = [FitsImage(1, "AMP1", None, image.astype(np.float32), None, 0),
              FitsImage(2, "AMP2", None, image.astype(np.float32), None, 0)]
    return images, build_catalog(images, {1: mask, 2: np.zeros_like(mask)}, gain=10.0)


def test_region_file_round_trips_through_regions(tmp_path):
    images, catalog = _catalog()
    texts = region_texts(images, catalog)
    assert set(texts) == {"AMP1", "AMP2"}
    path = region_path(tmp_path / "frame.fits", tmp_path, "AMP1")
    assert path.name == "frame.AMP1.reg"
    path.write_text(texts["AMP1"])
    shapes = read_region_file(path)
    assert len(shapes) == len(catalog) == 2
    for shape, row in zip(shapes, catalog):
        # 0-based pixels in the catalog, 1-based in the file: regions converts both ways
        assert shape.center.x == pytest.approx(row["x"], abs=1e-4)
        assert shape.center.y == pytest.approx(row["y"], abs=1e-4)
        assert shape.width == pytest.approx(max(row["length"], 1.0), rel=1e-4)
        assert shape.visual["edgecolor"] == KIND_COLOURS[row["kind"]]
        assert shape.meta["text"].startswith(row["kind"])
    # An image without clusters gets a file with none.
    empty = tmp_path / "frame.AMP2.reg"
    empty.write_text(texts["AMP2"])
    assert len(read_region_file(empty)) == 0


def _tracks(gain):
    """A catalog of tracks at many angles (negative ones too, and one along a row)."""
    rng = np.random.default_rng(3)
    image = 500.0 + rng.normal(0.0, 0.01, (200, 200))
    mask = np.zeros((200, 200), np.uint8)
    for k in range(12):
        angle = np.radians(rng.uniform(-90.0, 90.0))
        row, col = 20 + 14 * k, 40 + 10 * (k % 5)
        for step in range(rng.integers(1, 12)):
            r, c = int(round(row + step * np.sin(angle))), int(round(col + step * np.cos(angle)))
            image[r, c] += rng.uniform(20.0, 400.0)
            mask[r, c] = CLUSTER
    image[190, 150:170] += 80.0  # along a row: an angle of 0 up to the CPU's last bits
    mask[190, 150:170] = CLUSTER
    images = [FitsImage(1, "AMP1", None, image.astype(np.float32), None, 0)]
    catalog = build_catalog(images, {1: mask}, gain=gain, skipper=False)
    assert len(catalog) >= 10
    return catalog


def _parsed(text):
    from regions import Regions

    return Regions.parse(text, format="ds9")


@pytest.mark.parametrize("gain", [10.0, None])
def test_the_file_is_the_text_astropy_regions_writes(gain):
    """Formatted in one pass, byte for byte what regions serialises from one object per
    cluster (both from the same rounded angles, so on any CPU): tracks at many angles
    (negative ones too), in keV and, without a gain, ADU."""
    catalog = _tracks(gain)
    assert ds9_text(catalog) == catalog_regions(catalog).serialize(format="ds9")


@pytest.mark.parametrize("gain", [10.0, None])
def test_the_file_reads_as_regions_own_text_of_the_unrounded_catalog(gain):
    """Against regions' text of the raw angles (whose last bits depend on the CPU: 6e-27 on
    one, -0.0 on another), the values read back agree to the precision written."""
    import astropy.units as u
    from regions import EllipsePixelRegion, PixCoord, Regions

    catalog = _tracks(gain)
    raw = Regions([EllipsePixelRegion(PixCoord(float(row["x"]), float(row["y"])),
                                      width=max(float(row["length"]), 1.0),
                                      height=max(float(row["width"]), 1.0),
                                      angle=float(row["theta"]) * u.deg)
                   for row in catalog])
    mine, theirs = _parsed(ds9_text(catalog)), _parsed(raw.serialize(format="ds9"))
    assert len(mine) == len(theirs) == len(catalog)
    for a, b in zip(mine, theirs):
        assert a.center.x == pytest.approx(b.center.x, abs=1e-8)
        assert a.center.y == pytest.approx(b.center.y, abs=1e-8)
        assert a.width == pytest.approx(b.width, abs=1e-8)
        assert a.height == pytest.approx(b.height, abs=1e-8)
        assert a.angle.to_value(u.deg) == pytest.approx(b.angle.to_value(u.deg), abs=1e-8)
    assert min(abs(float(t)) for t in catalog["theta"]) < 1e-6  # the track along a row


def test_angles_of_zero_up_to_the_last_bits_are_written_alike():
    """-0.0, 0.0 and the 6.27e-27 that an AMX CPU's sums give write the same line; a small
    angle that survives the rounding is written as regions writes it."""
    _, catalog = _catalog()
    one = catalog[:1]
    lines = set()
    for theta in (0.0, -0.0, 6.26510904e-27, -3e-20, 4e-9):
        one["theta"] = theta
        lines.add(ds9_text(one))
    assert len(lines) == 1 and ",0.00000000)" in lines.pop()
    assert list(rounded_angles([-0.0, 6e-27, 12.3456789049, -45.0])) == \
        [0.0, 0.0, 12.3456789, -45.0]
    assert not np.signbit(rounded_angles([-0.0, -1e-12])).any()
    for theta in (6.26510904e-27, -0.0, 1.5e-5, -2.5e-6, 1e-4, 37.123456789, -89.999999999):
        catalog["theta"] = [theta, -theta]
        assert ds9_text(catalog) == catalog_regions(catalog).serialize(format="ds9"), theta


def test_one_cluster_and_none():
    """One cluster: its label and colour go on the global line, as regions writes them
    (in an order of its own); no cluster: no text at all."""
    from regions import Regions

    images, catalog = _catalog()
    one = catalog[:1]
    mine = Regions.parse(ds9_text(one), format="ds9")
    theirs = Regions.parse(catalog_regions(one).serialize(format="ds9"), format="ds9")
    assert len(mine) == len(theirs) == 1
    assert mine[0].center == theirs[0].center and mine[0].width == theirs[0].width
    assert mine[0].meta["text"] == theirs[0].meta["text"]
    assert mine[0].visual["edgecolor"] == theirs[0].visual["edgecolor"]
    assert ds9_text(catalog[:0]) == catalog_regions(catalog[:0]).serialize(format="ds9") == ""


def test_region_files_are_named_safely_and_one_per_image():
    """EXTNAMEs that are not file names, or that two images share, still give one file per
    image inside the output folder (found by tests/test_user_files_property.py: two SCI
    extensions wrote one file, the first image's clusters lost)."""
    image = np.zeros((4, 4), np.float32)
    names = [("SCI", None), ("SCI", None), ("AMP/3", None), ("../up", None), ("SCI", 2),
             ("", None), ("..", None)]
    images = [FitsImage(k, name, ver, image, None, 0) for k, (name, ver) in enumerate(names, 1)]
    labels = region_labels(images)
    assert labels == ["SCI_HDU1", "SCI_HDU2", "AMP_3", "_up", "SCI,2", "HDU6", "HDU7"]
    _, catalog = _catalog()
    assert list(region_texts(images, catalog[:0])) == labels
