"""Raw skipper files: NSAMP samples per pixel along the row are averaged, once."""

import numpy as np
import pytest
from astropy.io import fits

from ccdnb.errors import CcdnbInputError
from ccdnb.fitsio import read_fits_images
from ccdnb.skipper_raw import average_raw_samples, looks_raw


def skipper_pixels(shape=(40, 60), seed=0):
    """Averaged truth in ADU: a 0.5 e-/pixel field at gain 10 ADU/e- and a few events."""
    rng = np.random.default_rng(seed)
    charge = 10.0 * rng.poisson(0.5, shape)
    charge[10, 20:24] += 300.0
    return 1000.0 + charge


def raw_samples(pixels, nsamp, noise=3.0, seed=1):
    """Every pixel read ``nsamp`` times, the samples side by side along the row."""
    rng = np.random.default_rng(seed)
    samples = np.repeat(pixels, nsamp, axis=1)
    return (samples + rng.normal(0.0, noise, samples.shape)).astype(np.float32)


def write(tmp_path, data, name="skipper.fits", **keywords):
    header = fits.Header()
    for key, value in keywords.items():
        header[key] = value
    path = tmp_path / name
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, header, name="CCD_A")]).writeto(path)
    return path


@pytest.mark.parametrize("keywords", [dict(NSAMP=16, NCOL=60), dict(NSAMP=16)],
                         ids=["with NCOL", "recognised from the samples"])
def test_raw_samples_are_averaged_per_pixel(tmp_path, keywords):
    pixels = skipper_pixels()
    raw = raw_samples(pixels, 16)
    (image,) = read_fits_images(write(tmp_path, raw, **keywords)).images
    assert image.data.shape == (40, 60)
    np.testing.assert_allclose(image.data, raw.reshape(40, 60, 16).mean(axis=2), rtol=1e-6)
    assert np.std(image.data - pixels) == pytest.approx(3.0 / 4.0, rel=0.1)  # noise / sqrt(16)
    assert image.header["SKPAVG"] == 16


def test_an_averaged_image_that_keeps_nsamp_is_left_alone(tmp_path):
    rng = np.random.default_rng(2)
    averaged = (skipper_pixels((40, 64)) + rng.normal(0.0, 0.75, (40, 64))).astype(np.float32)
    assert not looks_raw(averaged, 16)
    (image,) = read_fits_images(write(tmp_path, averaged, NSAMP=16)).images
    np.testing.assert_array_equal(image.data, averaged)
    (image,) = read_fits_images(write(tmp_path, averaged, "b.fits", NSAMP=16, NCOL=64)).images
    np.testing.assert_array_equal(image.data, averaged)
    assert "SKPAVG" not in image.header


def test_a_width_that_fits_neither_pixels_nor_samples_is_bad_input():
    header = fits.Header()
    header["NSAMP"], header["NCOL"] = 8, 50
    with pytest.raises(CcdnbInputError, match="NSAMP=8"):
        average_raw_samples(np.zeros((4, 120), np.float32), header, where="x.fits: HDU 1")


def test_bias_sections_of_the_header_become_column_slices(tmp_path):
    from ccdnb.fitsio import bias_columns_from_header
    from ccdnb.simulation import simulate_frame, write_simulated_fits

    header = fits.Header()
    header["BIASSEC"], header["PRESEC"] = "[101:132,1:50]", "[1:8,1:50]"
    assert bias_columns_from_header(header, (50, 132)) == [slice(100, 132), slice(0, 8)]
    header["BIASSEC"] = "[101:140,1:50]"      # outside the image: ignored
    assert bias_columns_from_header(header, (50, 132)) == [slice(0, 8)]
    frame = simulate_frame((40, 96), 2, seed=1, preset="skipper-dense", prescan_columns=4,
                           overscan_columns=12)
    path = write_simulated_fits(tmp_path / "frame.fits", frame)
    for sim, image in zip(frame, read_fits_images(path).images):
        assert sorted((c.start, c.stop) for c in image.bias_columns) == sorted(
            tuple(b) for b in sim.meta["bias_columns"])
        start, stop = sim.meta["data_columns"]
        assert stop - start == 80 and np.all(sim.label[:, :start] == 0)
