"""Property: whatever FITS file a user hands ccdnb, reading it, ``ccdnb predict`` on it and
its cluster catalog end in a clean result or one CcdnbInputError, never another exception.

Hypothesis draws small files (at most 24 x 24 pixels per image, so that the whole module
runs in about a minute): the image in the primary HDU, in extensions beside a table, or
tile-compressed; stored as uint8, int16, uint16, int32, int64, float32 or float64; integer
data with BZERO/BSCALE (and BLANK) written into the header; NaN and +-inf pixels, down to
an image without a finite pixel; constant and extreme values; 1-D and 3-D data; the
keywords ccdnb reads (EXTNAME, EXTVER, BIASSEC, NSAMP with NCOL, GAIN) present, absent or
wrong; files cut short or with bytes after the last HDU.

- :func:`ccdnb.fitsio.read_fits_images` gives each image as float32 equal to astropy's
  own reading (scaled, BLANK as NaN; NSAMP samples averaged where ccdnb takes the image
  for a raw skipper one) with its NaN/inf count, or a one-line CcdnbInputError naming the
  file; a sound file is refused only for an image without a finite pixel or an NSAMP
  that its width does not fit.
- ``ccdnb predict`` (:func:`ccdnb.cli.main`, the shipped model) exits 0 with the masks
  file (and with ``--catalog`` the CSV and a DS9 file per image, each holding its own
  image's clusters) and nothing else in the output folder, or, only for a file that the
  reader refuses, exits 2 with one error line naming the file and writes nothing.
- :func:`ccdnb.catalog.build_catalog` of any image and class mask has one row per
  8-connected cluster with centroids inside the image, and writes to FITS, CSV and DS9.

Examples are derandomized (the ``ccdnb`` profile of ``tests/conftest.py``), so every run
tries the same files; ``HYPOTHESIS_PROFILE=thorough`` tries many more.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import event, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ccdnb.errors import CcdnbInputError  # noqa: E402

INTEGER = ("uint8", "int16", "uint16", "int32", "int64")
DTYPES = INTEGER + ("float32", "float64")
LAYOUTS = ("primary", "extension", "extensions and a table", "compressed")
MAX_SIDE = 24
#: Ten times the examples under HYPOTHESIS_PROFILE=thorough (see tests/conftest.py).
SCALE = 10 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 1
#: Keyword values: absent (None), sound, and the wrong kinds archives hold.
EXTNAMES = st.sampled_from([None, "AMP1", "SCI", "", "amp 2 (left)", "AMP/3", "../up"])
EXTVERS = st.sampled_from([None, 1, 2, "two"])
BIASSECS = st.sampled_from([None, "[1:2,1:4]", "[1:99999,1:1]", "garbage", "[3:1,1:2]"])
NSAMPS = st.sampled_from([None, 1, 2, 3, 0, -4, "many", 2.5])
GAINS = st.sampled_from([None, 4.5, 0.0, -1.0, "unknown"])


# --- drawing files --------------------------------------------------------------------

@st.composite
def pixel_arrays(draw, ndim=2):
    """(stored array, scaling): random shape, dtype, values, NaN/inf; BZERO/BSCALE for ints."""
    if ndim == 2:
        shape = (draw(st.integers(1, MAX_SIDE)), draw(st.integers(1, MAX_SIDE)))
    else:
        shape = tuple(draw(st.integers(1, 6)) for _ in range(ndim))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    values = draw(st.sampled_from(["noise", "constant", "extreme", "hits"]))
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        low, high = max(int(info.min), -(2**40)), min(int(info.max), 2**40)
        if values == "extreme":
            data = rng.choice([low, high, 0], size=shape)
        elif values == "constant":
            data = np.full(shape, int(rng.integers(low, high, endpoint=True)))
        else:
            centre = (low + high) // 2
            data = np.clip(np.round(rng.normal(centre, 5.0, shape)), low, high)
            if values == "hits":
                data.flat[rng.integers(data.size)] = high
        data = data.astype(dtype)
        scaling = draw(st.sampled_from([None, (32768.0, 1.0), (-100.5, 0.25), (0.0, 3.0),
                                        (1e4, 1e-3), (5.0, 0.0), (1e300, 1e300)]))
        blank = draw(st.sampled_from([None, int(data.flat[0])]))
        return data, scaling, blank
    if values == "extreme":
        finfo = np.finfo(dtype)
        data = rng.choice([finfo.max, -finfo.max, finfo.tiny, 0.0, 1e-40], size=shape)
    elif values == "constant":
        data = np.full(shape, draw(st.sampled_from([0.0, -250.0, 3e4])))
    else:
        data = rng.normal(draw(st.sampled_from([0.0, 1000.0, -300.0])), 4.0, shape)
        if values == "hits":
            data.flat[rng.integers(data.size)] += 500.0
    data = data.astype(dtype)
    holes = draw(st.sampled_from(["none", "none", "some", "all"]))
    if holes == "some":
        where = rng.random(shape) < 0.3
        data[where] = rng.choice([np.nan, np.inf, -np.inf], size=int(where.sum()))
    elif holes == "all":
        data[...] = rng.choice([np.nan, np.inf, -np.inf], size=shape)
    return data, None, None


@st.composite
def header_cards(draw, width):
    """The keywords ccdnb reads, present, absent or wrong; NCOL fits NSAMP or not."""
    cards = {"EXTNAME": draw(EXTNAMES), "EXTVER": draw(EXTVERS), "BIASSEC": draw(BIASSECS),
             "NSAMP": draw(NSAMPS), "GAIN": draw(GAINS)}
    if isinstance(cards["NSAMP"], int) and cards["NSAMP"] > 1:
        cards["NCOL"] = draw(st.sampled_from([None, width // cards["NSAMP"], width, 7]))
    return {key: value for key, value in cards.items() if value is not None}


@st.composite
def fits_files(draw):
    """A description of a FITS file: its layout and the images' arrays and keywords."""
    layout = draw(st.sampled_from(LAYOUTS))
    ndim = draw(st.sampled_from([2, 2, 2, 2, 2, 2, 2, 1, 3]))
    n_images = draw(st.integers(1, 2)) if layout != "primary" else 1
    images = []
    for _ in range(n_images):
        data, scaling, blank = draw(pixel_arrays(ndim))
        if layout == "compressed":
            with np.errstate(over="ignore", invalid="ignore"):  # float64 extremes -> inf
                data = data.astype(np.float32 if data.dtype.kind == "f" else np.int32)
            scaling, blank = None, None
        images.append((data, scaling, blank, draw(header_cards(data.shape[-1]))))
    damage = draw(st.sampled_from(["none"] * 6 + ["cut", "trailing bytes"]))
    fraction = draw(st.floats(0.05, 0.95))
    return layout, images, damage, fraction


def write_fits(path: Path, description) -> Path:
    """Write the file a :func:`fits_files` description names; return its path."""
    layout, images, damage, fraction = description
    hdus = []
    for data, _, _, cards in images:
        header = fits.Header()
        for key, value in cards.items():
            header[key] = value
        if layout == "primary":
            hdus.append(fits.PrimaryHDU(data, header=header))
        elif layout == "compressed":
            hdus.append(fits.CompImageHDU(data, header=header))
        else:
            hdus.append(fits.ImageHDU(data, header=header))
    if layout != "primary":
        hdus.insert(0, fits.PrimaryHDU())
    if layout == "extensions and a table":
        hdus.insert(1, fits.BinTableHDU.from_columns(
            [fits.Column(name="t", format="E", array=np.arange(3.0))], name="EVENTS"))
    fits.HDUList(hdus).writeto(path, output_verify="silentfix")
    scaled = [k for k, hdu in enumerate(hdus) if hdu.is_image and hdu.data is not None]
    if any(scaling or blank is not None for _, scaling, blank, _ in images):
        # BZERO/BSCALE/BLANK of the stored integers, as the detector's writer set them
        with fits.open(path, mode="update", do_not_scale_image_data=True) as hdul:
            for index, (_, scaling, blank, _) in zip(scaled, images):
                if scaling:
                    hdul[index].header["BZERO"], hdul[index].header["BSCALE"] = scaling
                if blank is not None:
                    hdul[index].header["BLANK"] = blank
    if damage == "cut":
        content = path.read_bytes()
        path.write_bytes(content[:max(1, int(len(content) * fraction))])
    elif damage == "trailing bytes":
        with open(path, "ab") as handle:
            handle.write(b"not an HDU" * 40)
    return path


def astropy_images(path):
    """{HDU index: float32 data, header} of every 2-D image HDU, as astropy reads them."""
    found = {}
    with fits.open(path, memmap=False) as hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # BSCALE 1e300: overflow to inf
        for index, hdu in enumerate(hdul):
            if hdu.is_image and hdu.data is not None and hdu.data.ndim == 2 and hdu.data.size:
                with np.errstate(over="ignore", invalid="ignore"):  # as ccdnb: beyond -> inf
                    data = np.asarray(hdu.data).astype(np.float32)
                found[index] = (data, hdu.header.copy())
    return found


def expected_pixels(data, header, width):
    """Astropy's pixels, averaged over NSAMP samples where ccdnb found a raw skipper image."""
    if width == data.shape[1]:
        return data
    nsamp = data.shape[1] // width
    assert width * nsamp == data.shape[1] and int(header["NSAMP"]) == nsamp
    return data.astype(np.float64).reshape(data.shape[0], width, nsamp).mean(axis=2)


def assert_one_line(err: CcdnbInputError, path) -> None:
    text = str(err)
    assert text and "\n" not in text.strip() and str(path) in text, text


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A fresh folder per example (hypothesis runs many examples in one test call)."""
    count = iter(range(10**6))
    return lambda: tmp_path_factory.mktemp(f"example{next(count)}")


# --- the FITS reader ------------------------------------------------------------------

@settings(max_examples=150 * SCALE)
@given(description=fits_files())
@example(description=("primary", [(np.full((3, 3), np.nan, np.float32), None, None, {})],
                      "none", 0.5))
@example(description=("extension", [(np.arange(12, dtype=np.int16).reshape(3, 4),
                                     (-100.5, 0.25), 5, {"NSAMP": 2, "NCOL": 2})], "none", 0.5))
def test_the_reader_gives_astropys_pixels_or_one_input_error(folders, description):
    from ccdnb.fitsio import read_fits_images

    path = write_fits(folders() / "frame.fits", description)
    try:
        contents = read_fits_images(path)
    except CcdnbInputError as err:
        event(f"refused: {str(err).split(': ', 2)[-1][:40]}")
        assert_one_line(err, path)
        _, images, damage, _ = description
        if damage == "none" and all(data.ndim == 2 for data, *_ in images):
            # a sound file of 2-D images is refused only for an image without a finite
            # pixel (nothing to segment; ccdnb monitor keeps the others) or for an NSAMP
            # that the image's width does not fit
            reference = astropy_images(path).values()
            if "no finite pixel" in str(err):
                assert any(not np.isfinite(data).any() or "NSAMP" in header
                           for data, header in reference), str(err)
            else:
                assert "NSAMP" in str(err), str(err)
        return
    event(f"read: {len(contents.images)} image(s)")
    reference = astropy_images(path)
    assert contents.images and {image.index for image in contents.images} <= set(reference)
    for image in contents.images:
        data, header = reference[image.index]
        assert image.data.dtype == np.float32 and image.data.ndim == 2
        want = expected_pixels(data, header, image.data.shape[1])
        np.testing.assert_allclose(image.data, want, rtol=1e-6, atol=np.finfo(np.float32).tiny,
                                   equal_nan=True)  # float32: subnormals round coarser
        assert image.n_nonfinite == int(np.count_nonzero(~np.isfinite(image.data)))
        assert image.n_nonfinite < image.data.size
        if image.bias_columns:
            assert all(0 <= s.start < s.stop <= image.data.shape[1] for s in image.bias_columns)


# --- ccdnb predict --------------------------------------------------------------------

def run_predict(args):
    """``ccdnb predict`` through :func:`ccdnb.cli.main`: (exit code, stdout, stderr)."""
    from ccdnb.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["predict", *map(str, args)])
    return code, out.getvalue(), err.getvalue()


def _amplifiers(*names):
    """Two 20 x 20 float32 amplifiers with a bright dot each, named as given."""
    rng = np.random.default_rng(5)
    images = []
    for name in names:
        data = rng.normal(1000.0, 4.0, (20, 20)).astype(np.float32)
        data[8:11, 8:11] += 400.0
        images.append((data, None, None, {"EXTNAME": name}))
    return ("extension", images, "none", 0.5)


@settings(max_examples=50 * SCALE)
@given(description=fits_files(), catalog=st.booleans(), probabilities=st.booleans())
@example(description=_amplifiers("SCI", "SCI"), catalog=True, probabilities=False)
@example(description=_amplifiers("AMP/3", "../up"), catalog=True, probabilities=False)
# a constant image alone (nothing to segment: refused), and beside a live one (a note)
@example(description=("primary", [(np.array([[128]], np.uint8), None, None, {})], "none", 0.5),
         catalog=False, probabilities=False)
@example(description=("extension", [(np.array([[128]], np.uint8), None, None, {}),
                                    (np.array([[128, 126]], np.uint8), None, None, {})],
                      "none", 0.5), catalog=True, probabilities=False)
def test_predict_writes_the_masks_or_one_error_line_and_nothing(folders, description, catalog,
                                                                probabilities):
    from ccdnb.fitsio import output_stem, read_fits_images

    folder = folders()
    path = write_fits(folder / "frame.fits", description)
    out_dir = folder / "out"
    options = ["--catalog"] * catalog + ["--probabilities"] * probabilities
    code, stdout, stderr = run_predict([path, "--out-dir", out_dir, "--quiet", *options])
    written = sorted(p.name for p in out_dir.iterdir()) if out_dir.exists() else []
    event(f"exit {code}")
    try:  # predict keeps dead amplifiers (no finite pixel, or one value) among live ones
        dead = [image for image in read_fits_images(path, keep_dead=True).images if image.dead]
    except CcdnbInputError:
        readable = False
    else:
        readable = True
    if code == 2:
        assert not readable, stderr  # predict refuses only what the reader refuses
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"ccdnb: error: {path}"), stderr
        assert "Traceback" not in stderr and stdout == ""
        assert written == [], written  # no partial output
        return
    assert code == 0, stderr
    # one note per dead amplifier, nothing else
    notes = stderr.strip().splitlines()
    assert len(notes) == len(dead) and all(
        line.startswith(f"ccdnb: note: {path}: HDU {image.index} ") and "dead amplifier" in line
        for line, image in zip(notes, dead)), stderr
    assert stdout.strip() == str(out_dir / "frame.masks.fits")
    with fits.open(out_dir / "frame.masks.fits") as masks, fits.open(path) as source:
        assert len(masks) >= len(source)
        images = {index: hdu for index, hdu in enumerate(masks) if "CLASS0" in hdu.header}
        assert images
        for index, hdu in images.items():
            assert hdu.data.dtype == np.uint8 and hdu.data.ndim == 2
            assert hdu.data.shape[0] == source[index].data.shape[0]
            assert int(hdu.data.max()) <= 3
    expected = {"frame.masks.fits"}
    if catalog:
        from astropy.table import Table

        from ccdnb.ds9 import read_region_file

        expected.add("frame.catalog.csv")
        regions = [p for p in out_dir.iterdir() if p.suffix == ".reg"]
        # a region file per image, each holding its own image's clusters
        assert len(regions) == len(read_fits_images(path).images), written
        rows = Table.read(out_dir / "frame.catalog.csv", format="ascii.csv")
        assert sum(len(read_region_file(p)) for p in regions) == len(rows)
        expected |= {p.name for p in regions}
        assert all(p.name.startswith(f"{output_stem(path)}.") for p in regions)
    assert set(written) == expected, written


# --- the catalog ----------------------------------------------------------------------

@st.composite
def images_and_masks(draw):
    """A small image (any finite or not values) and a class mask with clusters."""
    shape = (draw(st.integers(1, MAX_SIDE)), draw(st.integers(1, MAX_SIDE)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    image = rng.normal(draw(st.sampled_from([0.0, 800.0, -50.0])), 3.0, shape)
    if draw(st.booleans()):
        image += rng.exponential(50.0, shape) * (rng.random(shape) < 0.2)
    holes = draw(st.sampled_from(["none", "some", "all-but-one"]))
    if holes == "some":
        image[rng.random(shape) < 0.2] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    elif holes == "all-but-one":
        image[...] = np.nan
        image.flat[0] = 1.0
    occupancy = draw(st.sampled_from([0.0, 0.1, 0.3, 0.6, 1.0]))
    mask = (rng.random(shape) < occupancy) * rng.choice([1, 2, 3, 3, 3], size=shape)
    gain = draw(st.sampled_from([None, 2.5, 80.0]))
    return image.astype(np.float32), mask.astype(np.uint8), gain


@settings(max_examples=100 * SCALE)
@given(case=images_and_masks())
def test_the_catalog_has_a_row_per_cluster_and_writes(folders, case):
    from astropy.table import Table
    from regions import Regions
    from scipy.ndimage import label

    from ccdnb.catalog import CATALOG_COLUMNS, build_catalog
    from ccdnb.ds9 import ds9_text
    from ccdnb.fitsio import FitsImage

    image, mask, gain = case
    images = [FitsImage(1, "AMP", None, image, fits.Header(), int(np.sum(~np.isfinite(image))))]
    try:
        table = build_catalog(images, {1: mask}, gain=gain)
    except CcdnbInputError as err:
        assert str(err) and "\n" not in str(err).strip()
        return
    _, clusters = label(mask == 3, structure=np.ones((3, 3)))
    event(f"{'no' if clusters == 0 else 'some'} clusters")
    assert table.colnames == list(CATALOG_COLUMNS) and len(table) == clusters
    assert int(np.sum(table["npix"])) == int(np.count_nonzero(mask == 3))
    height, width = image.shape
    assert np.all((table["x"] >= 0) & (table["x"] <= width - 1))
    assert np.all((table["y"] >= 0) & (table["y"] <= height - 1))
    folder = folders()
    table.write(folder / "catalog.csv", format="ascii.csv")
    fits.BinTableHDU(table, name="CATALOG").writeto(folder / "catalog.fits")
    assert len(Table.read(folder / "catalog.csv", format="ascii.csv")) == clusters
    with fits.open(folder / "catalog.fits") as hdul:
        assert len(hdul["CATALOG"].data) == clusters
    text = ds9_text(table)
    assert len(Regions.parse(text, format="ds9")) == clusters if text else clusters == 0
