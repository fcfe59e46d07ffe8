"""The quality mask: each bit covers exactly the pixels it should on a constructed frame."""

import numpy as np
import pytest

from ccdnb.classes import CLUSTER, GLOWING, HOT_PIXEL
from ccdnb.errors import CcdnbInputError
from ccdnb.objects.quality_mask import (
    QUALITY_BITS,
    MaskParameters,
    bit_shares,
    clean,
    quality_hdu,
    quality_header_cards,
    quality_mask,
)

BIT = {b.name: 1 << b.bit for b in QUALITY_BITS}
# every bit off but the one a test looks at (edge and the glow tail off: they need no
# help to be seen)
QUIET = dict(edge_width=0, column_excess_sigma=None, glow_excess_sigma=None, glow_margin=0,
             neighbour_width=0, halo_radius=0, bleed_row_length=0, bleed_column_length=0)


def covered(mask, name):
    return (mask & BIT[name]) != 0


def empty(shape=(12, 16)):
    return np.zeros(shape, np.uint8), np.zeros(shape)


def test_bits_are_one_table_with_names_and_sources():
    assert [b.bit for b in QUALITY_BITS] == list(range(len(QUALITY_BITS)))
    names = [b.name for b in QUALITY_BITS]
    for wanted in ("CLUSTER", "HALO", "BLEED", "HOTPIX", "HOTCOL", "GLOW", "EDGE", "SERIAL",
                   "DEFECT", "NEIGHBOR"):
        assert wanted in names
    assert all(b.source and b.description for b in QUALITY_BITS)
    assert all(o["help"] and o["source"] for o in MaskParameters.options())


def test_cluster_and_neighbour():
    classes, e = empty()
    classes[5, 6:8] = CLUSTER
    mask = quality_mask(classes, e, **{**QUIET, "neighbour_width": 1})
    assert np.array_equal(covered(mask, "CLUSTER"), classes == CLUSTER)
    want = np.zeros(classes.shape, bool)
    want[4:7, 5:9] = True
    want[5, 6:8] = False
    assert np.array_equal(covered(mask, "NEIGHBOR"), want)
    assert np.array_equal(clean(mask), ~(want | (classes == CLUSTER)))


def test_halo_is_a_disc_around_pixels_above_the_threshold():
    classes, e = empty((21, 21))
    e[10, 10] = 150.0   # a seed
    e[3, 3] = 99.0      # below 100 e-: none
    classes[10, 10] = CLUSTER
    mask = quality_mask(classes, e, **{**QUIET, "halo_radius": 3.0})
    rr, cc = np.mgrid[:21, :21]
    assert np.array_equal(covered(mask, "HALO"), (rr - 10) ** 2 + (cc - 10) ** 2 <= 9)
    # a hot pixel's charge seeds no halo unless asked
    classes[10, 10] = HOT_PIXEL
    assert not covered(quality_mask(classes, e, **{**QUIET, "halo_radius": 3.0}), "HALO").any()
    assert covered(quality_mask(classes, e, **{**QUIET, "halo_radius": 3.0,
                                                "defect_seeds": True}), "HALO").sum() == 29


def test_bleed_trails_follow_the_readout_direction():
    classes, e = empty((10, 12))
    e[4, 5] = 500.0
    options = {**QUIET, "bleed_row_length": 3, "bleed_column_length": 2}
    mask = quality_mask(classes, e, **options)
    want = np.zeros(classes.shape, bool)
    want[4, 6:9] = True  # read after it along the row (amplifier on the left)
    want[5:7, 5] = True  # and in the rows read after it
    assert np.array_equal(covered(mask, "BLEED"), want)
    mask = quality_mask(classes, e, **options, readout_side="right", readout_rows="descending")
    want = np.zeros(classes.shape, bool)
    want[4, 2:5] = True
    want[2:4, 5] = True
    assert np.array_equal(covered(mask, "BLEED"), want)


def test_hot_pixels_and_hot_columns():
    classes, e = empty((30, 10))
    classes[3, 2] = HOT_PIXEL                  # a hot pixel
    classes[5:20, 7] = HOT_PIXEL               # a vertical group of 15 rows: its column
    mask = quality_mask(classes, e, **{**QUIET, "hot_column_min_rows": 10})
    assert np.array_equal(covered(mask, "HOTPIX"), classes == HOT_PIXEL)
    want = np.zeros(classes.shape, bool)
    want[:, 7] = True
    assert np.array_equal(covered(mask, "HOTCOL"), want)


def test_a_column_with_excess_charge_is_hot():
    rng = np.random.default_rng(0)
    classes = np.zeros((200, 40), np.uint8)
    e = rng.poisson(0.2, classes.shape) + rng.normal(0, 0.15, classes.shape)
    e[:, 13] += rng.poisson(0.6, 200)   # faint: the class mask does not see it
    mask = quality_mask(classes, e, **{**QUIET, "column_excess_sigma": 5.0})
    assert np.flatnonzero(covered(mask, "HOTCOL").any(axis=0)).tolist() == [13]


def test_glow_with_its_margin_and_its_measured_tail():
    classes, e = empty((40, 60))
    classes[:5, :5] = GLOWING
    mask = quality_mask(classes, e, **{**QUIET, "glow_margin": 2})
    rr, cc = np.mgrid[:40, :60]
    distance = np.hypot(np.maximum(rr - 4, 0), np.maximum(cc - 4, 0))
    assert np.array_equal(covered(mask, "GLOW"), distance <= 2)
    # a tail of charge beyond the labelled glow is masked out to where it fades
    rng = np.random.default_rng(1)
    classes, _ = empty((120, 160))
    classes[:10, :10] = GLOWING
    rr, cc = np.mgrid[:120, :160]
    tail = 2.0 * np.exp(-np.hypot(np.maximum(rr - 9, 0), np.maximum(cc - 9, 0)) / 8.0)
    tail[:10, :10] = 0.0
    e = rng.poisson(0.01 + tail) + rng.normal(0, 0.1, classes.shape)
    quiet = quality_mask(classes, e, **QUIET)
    grown = quality_mask(classes, e, **{**QUIET, "glow_excess_sigma": 1.0,
                                        "glow_max_margin": 60})
    assert covered(quiet, "GLOW").sum() == 100
    assert covered(grown, "GLOW").sum() > 10 * 100
    # the charge of the tail left outside the bit: a few per cent of it
    assert tail[~covered(grown, "GLOW")].sum() < 0.05 * tail.sum()


def test_edge_of_the_image_area():
    classes, e = empty((10, 14))
    mask = quality_mask(classes, e, **{**QUIET, "edge_width": 2},
                        bias_columns=[slice(11, 14)])
    want = np.zeros(classes.shape, bool)
    want[:2, :] = want[-2:, :] = True
    want[:, :2] = want[:, 9:11] = True
    assert np.array_equal(covered(mask, "EDGE"), want)
    over = np.zeros(classes.shape, bool)
    over[:, 11:] = True
    assert np.array_equal(covered(mask, "OVERSCAN"), over)


def test_serial_register_events_mask_their_row_segment():
    classes, e = empty((10, 30))
    classes[4, [5, 6, 7, 9, 10, 11, 12]] = CLUSTER  # two one-row groups
    classes[7, 20:22] = CLUSTER                     # a two-pixel hit: no serial event
    classes[1:3, 20:23] = CLUSTER                   # a cluster of two rows: none either
    mask = quality_mask(classes, e, **{**QUIET, "serial_min_pixels": 4})
    want = np.zeros(classes.shape, bool)
    want[4, 9:13] = True
    assert np.array_equal(covered(mask, "SERIAL"), want)
    # from a map of the serial hits, with a margin
    serial = np.zeros(classes.shape, bool)
    serial[4, [5, 7]] = True
    mask = quality_mask(classes, e, serial=serial, **{**QUIET, "serial_margin": 1})
    want = np.zeros(classes.shape, bool)
    want[4, 4:7] = want[4, 6:9] = True
    assert np.array_equal(covered(mask, "SERIAL"), want)


def test_run_defects_from_a_map_or_a_defect_map():
    from ccdnb.defects import DefectMap

    classes, e = empty((8, 8))
    flags = np.zeros(classes.shape, bool)
    flags[2, 3] = flags[6, 1] = True
    assert np.array_equal(covered(quality_mask(classes, e, defects=flags, **QUIET), "DEFECT"),
                          flags)
    dmap = DefectMap(n_frames=10, min_frames=1)
    dmap.hot_share["CCD_A"] = np.where(flags, 0.9, 0.0).astype(np.float32)
    dmap.glow_share["CCD_A"] = np.zeros(classes.shape, np.float32)
    dmap.glow_share["CCD_A"][0, 0] = 0.5
    dmap.hot_share["CCD_B"] = dmap.glow_share["CCD_B"] = np.zeros(classes.shape, np.float32)
    mask = quality_mask(classes, e, defects=dmap, amplifier="CCD_A", **QUIET)
    want = flags.copy()
    want[0, 0] = True
    assert np.array_equal(covered(mask, "DEFECT"), want)
    with pytest.raises(CcdnbInputError, match="amplifier"):
        quality_mask(classes, e, defects=dmap, **QUIET)


def test_nonfinite_pixels_and_adu_input():
    classes = np.zeros((6, 6), np.uint8)
    image = np.full((6, 6), 100.0, np.float32)
    image[1, 1] = np.nan
    image[3, 3] = 100.0 + 2.0 * 500  # 500 e- at 2 ADU/e-
    mask = quality_mask(classes, image=image, gain=2.0, pedestal=np.full(6, 100.0),
                        **{**QUIET, "halo_radius": 1.0})
    assert covered(mask, "NONFINITE")[1, 1] and covered(mask, "NONFINITE").sum() == 1
    assert covered(mask, "HALO").sum() == 5
    with pytest.raises(CcdnbInputError, match="gain"):
        quality_mask(classes, image=image)


def test_loose_clusters_are_groups_the_sparse_field_does_not_make():
    """On a 0.05 e-/pixel field, twelve electrons over six touching pixels are a loose
    cluster (masked with a one-pixel margin); a pixel of two electrons and a pair of
    one-electron pixels are what the field makes, and stay; the cluster the class mask
    already has is no loose cluster."""
    rng = np.random.default_rng(7)
    shape = (64, 80)
    counts = rng.poisson(0.05, shape).astype(float)
    for rows, cols in ((slice(19, 24), slice(29, 33)), (slice(39, 42), slice(9, 12)),
                       (slice(49, 52), slice(49, 53))):
        counts[rows, cols] = 0.0  # each planted group alone in its neighbourhood
    counts[20:23, 30:32] = 2.0  # 12 e- over 6 pixels
    counts[40, 10] = 2.0
    counts[50, 50:52] = 1.0
    counts[10:12, 60:63] = 3.0  # a cluster of the class mask
    e = counts + rng.normal(0, 0.15, shape)
    classes = np.zeros(shape, np.uint8)
    classes[10:12, 60:63] = CLUSTER
    rate = np.full(shape[0], 0.05)
    mask = quality_mask(classes, e, field_rate=rate, **QUIET)
    loose = covered(mask, "LOOSE")
    assert loose[19:24, 29:33].all()  # the group and its margin
    assert not loose[40, 10] and not loose[50, 50:52].any()
    assert not loose[10:12, 60:63].any()
    assert loose.sum() <= 20 + 2 * 9  # nothing of the field beyond a chance group or two
    # no field rate (a frame that does not resolve electrons), the bit off, a dense field
    assert not covered(quality_mask(classes, e, **QUIET), "LOOSE").any()
    assert not covered(quality_mask(classes, e, field_rate=rate, loose_false_rate=None,
                                    **QUIET), "LOOSE").any()
    dense = np.full(shape[0], 0.5)
    assert not covered(quality_mask(classes, e, field_rate=dense, **QUIET), "LOOSE").any()
    tight = quality_mask(classes, e, field_rate=rate, **{**QUIET, "loose_margin": 0})
    assert covered(tight, "LOOSE")[20:23, 30:32].sum() == 6
    with pytest.raises(CcdnbInputError, match="loose_false_rate"):
        quality_mask(classes, e, field_rate=rate, loose_false_rate=2.0)
    with pytest.raises(CcdnbInputError, match="field rate"):
        quality_mask(classes, e, field_rate=rate[:10])


def test_loose_clusters_take_little_of_a_pure_sparse_field():
    """On a field alone the bit's chance groups hold under 1 % of the charge at 0.05
    e-/pixel, so the rate on the rest is not pulled low."""
    rng = np.random.default_rng(3)
    shape = (512, 512)
    counts = rng.poisson(0.05, shape)
    e = counts + rng.normal(0, 0.15, shape)
    mask = quality_mask(np.zeros(shape, np.uint8), e, field_rate=np.full(shape[0], 0.05),
                        **QUIET)
    loose = covered(mask, "LOOSE")
    assert counts[loose].sum() <= 0.01 * counts.sum()


def test_options_are_checked_and_recorded():
    classes, e = empty()
    with pytest.raises(CcdnbInputError, match="unknown quality mask option"):
        quality_mask(classes, e, halo_raduis=3)
    with pytest.raises(CcdnbInputError, match="edge_width"):
        quality_mask(classes, e, edge_width=-1)
    with pytest.raises(CcdnbInputError, match="shape"):
        quality_mask(classes, np.zeros((3, 3)))
    cards = dict((k, v) for k, v, _ in quality_header_cards(MaskParameters(halo_radius=7.0)))
    assert cards["QBIT0"] == "CLUSTER" and cards["QBIT9"] == "NEIGHBOR"
    assert cards["QHALOR"] == 7.0
    assert cards["QBIT12"] == "LOOSE" and cards["QLOOSEP"] == 1e-6
    mask = quality_mask(classes, e)
    hdu = quality_hdu(mask, name="CCD_A_QUALITY")
    assert hdu.data.dtype == np.uint16 and hdu.header["EXTNAME"] == "CCD_A_QUALITY"
    assert hdu.header["QBIT1"] == "HALO"
    shares = bit_shares(mask)
    assert shares["clean"] == pytest.approx(np.mean(mask == 0))
    assert shares["EDGE"] > 0


def _reference_bits(classes, e, p, given=None):
    """The bits from their definitions, over the whole frame (distance transforms,
    filters, labels; the glow tail's rings one by one). ``given``: the pixels of the bits
    not defined here (edge, serial-register segments), which the glow tail leaves out."""
    from scipy import ndimage

    cluster, hot, glowing = classes == CLUSTER, classes == HOT_PIXEL, classes == GLOWING
    size = 2 * p.neighbour_width + 1
    bits = {"NEIGHBOR": ndimage.maximum_filter(cluster, size=size, mode="constant") & ~cluster}
    seeds = np.isfinite(e) & ~hot & ~glowing & (e >= p.halo_threshold_e)
    bits["HALO"] = ndimage.distance_transform_edt(~seeds) <= p.halo_radius
    rows_forward, cols_forward = p.readout_rows == "ascending", p.readout_side == "left"
    bleed = np.zeros_like(seeds)
    for step in range(1, p.bleed_row_length + 1):
        shifted = np.zeros_like(seeds)
        if cols_forward:
            shifted[:, step:] = seeds[:, :-step]
        else:
            shifted[:, :-step] = seeds[:, step:]
        bleed |= shifted
    for step in range(1, p.bleed_column_length + 1):
        shifted = np.zeros_like(seeds)
        if rows_forward:
            shifted[step:] = seeds[:-step]
        else:
            shifted[:-step] = seeds[step:]
        bleed |= shifted
    bits["BLEED"] = bleed & ~seeds
    labels, n = ndimage.label(hot, structure=[[0, 1, 0], [0, 1, 0], [0, 1, 0]])
    long_runs = np.bincount(labels.ravel(), minlength=n + 1) >= p.hot_column_min_rows
    long_runs[0] = False
    bits["HOTCOL"] = np.broadcast_to(long_runs[labels].any(axis=0), classes.shape)
    # glow: the margin, and the rings while the band from each holds significant charge,
    # on the pixels every other bit leaves (HOTCOL's excess columns off here)
    from scipy.special import gammainc, ndtr

    distance = ndimage.distance_transform_edt(~glowing)
    others = bits["NEIGHBOR"] | bits["HALO"] | bits["BLEED"] | bits["HOTCOL"] | cluster | hot
    if given is not None:
        others |= given
    free = ~others & ~(distance <= p.glow_margin) & np.isfinite(e)
    charge = np.clip(np.rint(np.nan_to_num(e)), 0, None)
    typical = charge[free].mean()
    charge = np.minimum(charge, np.floor(typical + 6 * np.sqrt(max(typical, 0.05)) + 2))
    dispersion = max(charge[free].var() / charge[free].mean(), 1.0)
    ring = np.ceil((distance - p.glow_margin) / p.glow_ring)
    n_rings = int(np.ceil((p.glow_max_margin - p.glow_margin) / p.glow_ring))
    last = n_rings
    for k in range(1, n_rings + 1):
        inner = p.glow_margin + (k - 1) * p.glow_ring  # the band: at least its distance wide
        end = k - 1 + int(np.ceil(max(p.glow_band, inner) / p.glow_ring))
        inside = free & (ring >= k) & (ring <= end)
        beyond = free & (ring > end)
        known = beyond.any(axis=1)  # rows without: interpolated between rows
        lines = np.arange(classes.shape[0])
        field = np.interp(lines, lines[known], np.where(beyond, charge, 0).sum(axis=1)[known]
                          / beyond.sum(axis=1)[known])
        rows = np.nonzero(inside)[0]
        observed, expected = charge[inside].sum(), field[rows].sum()
        if not (observed > expected and gammainc(observed / dispersion, expected / dispersion)
                <= ndtr(-p.glow_excess_sigma)):
            last = k - 1
            break
    bits["GLOW"] = distance <= min(p.glow_margin + last * p.glow_ring, p.glow_max_margin)
    return bits


@pytest.mark.parametrize("seed", range(6))
def test_bits_match_their_whole_frame_definitions(seed, monkeypatch):
    """Runs, boxes and segments give exactly the bits the definitions give."""
    if seed % 2:  # the glow tail's work another way: rings one by one, no table of rings
        import ccdnb.objects.quality_mask as module

        monkeypatch.setattr(module, "_GLOW_FIRST_RINGS", 1)
        monkeypatch.setattr(module, "_RING_TABLE_SIZE", 0)
    rng = np.random.default_rng(seed)
    shape = (160, 420)
    classes = np.zeros(shape, np.uint8)
    rr, cc = np.mgrid[:shape[0], :shape[1]]
    glow = np.zeros(shape)
    for _ in range(rng.integers(1, 4)):  # glow spots far apart: boxes of their own
        r, c = int(rng.integers(0, shape[0])), int(rng.integers(0, shape[1]))
        classes[r:r + 4, c:c + 3] = GLOWING
        glow += 3.0 * np.exp(-np.hypot(rr - r, cc - c) / rng.uniform(3, 10))
    e = (rng.poisson(0.3 + glow) + rng.normal(0, 0.15, shape)).astype(np.float32)
    for _ in range(25):  # clusters, some bright enough to seed halos and trails
        r, c = int(rng.integers(0, shape[0])), int(rng.integers(0, shape[1]))
        h, w = rng.integers(1, 5), rng.integers(1, 7)
        classes[r:r + h, c:c + w] = CLUSTER
        e[r:r + h, c:c + w] += rng.uniform(2, 400, e[r:r + h, c:c + w].shape)
    for _ in range(8):  # hot pixels, some in vertical runs
        r, c = int(rng.integers(0, shape[0])), int(rng.integers(0, shape[1]))
        classes[r:r + rng.integers(1, 20), c] = HOT_PIXEL
    options = dict(halo_radius=float(rng.choice([2.5, 6.0])),
                   bleed_row_length=int(rng.integers(1, 30)),
                   bleed_column_length=int(rng.integers(1, 20)),
                   neighbour_width=int(rng.integers(1, 3)), glow_margin=int(rng.integers(1, 6)),
                   glow_ring=int(rng.integers(2, 5)), glow_max_margin=int(rng.integers(20, 45)),
                   glow_excess_sigma=1.0, hot_column_min_rows=8,
                   readout_rows=str(rng.choice(["ascending", "descending"])),
                   readout_side=str(rng.choice(["left", "right"])))
    mask = quality_mask(classes, e, **{**options, "column_excess_sigma": None})
    given = covered(mask, "EDGE") | covered(mask, "SERIAL")
    reference = _reference_bits(classes, e, MaskParameters.of(**options), given)
    for name, want in reference.items():
        assert np.array_equal(covered(mask, name), want), name
    # the tails are seen (beyond the margin)
    margin = _reference_bits(classes, e, MaskParameters.of(**{**options, "glow_excess_sigma": 1e9}),
                             given)
    assert covered(mask, "GLOW").sum() > margin["GLOW"].sum()


def test_the_figure_of_a_quality_mask_names_every_bit_it_holds():
    from ccdnb.monitoring.report import plot_quality_mask

    mask = np.zeros((4, len(QUALITY_BITS)), np.uint16)
    for b in QUALITY_BITS:
        mask[0, b.bit] = 1 << b.bit
    fig = plot_quality_mask(mask)
    labels = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    for b in QUALITY_BITS:
        assert any(label.startswith(b.name + " ") for label in labels), b.name
    import matplotlib.pyplot as plt

    plt.close(fig)
