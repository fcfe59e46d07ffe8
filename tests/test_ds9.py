"""DS9 region files of the catalog: astropy-regions' text, read back the same."""

import numpy as np
import pytest

from ccdnb.catalog import build_catalog
from ccdnb.classes import CLUSTER
from ccdnb.ds9 import catalog_regions, ds9_text, read_region_file, region_path, region_texts
from ccdnb.fitsio import FitsImage
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


@pytest.mark.parametrize("gain", [10.0, None])
def test_the_file_is_the_text_astropy_regions_writes(gain):
    """Formatted in one pass, byte for byte what regions serialises from one object per
    cluster: tracks at many angles (negative ones too), in keV and, without a gain, ADU."""
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
    images = [FitsImage(1, "AMP1", None, image.astype(np.float32), None, 0)]
    catalog = build_catalog(images, {1: mask}, gain=gain, skipper=False)
    assert len(catalog) >= 10
    assert ds9_text(catalog) == catalog_regions(catalog).serialize(format="ds9")


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
