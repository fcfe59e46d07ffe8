"""The prediction pipeline: one ordered list of named stages over a frame state.

Segmenting an image is the list :data:`STAGES`, run in order by :func:`run_stages`
(ccdproc's ``ccd_process`` is the model): measure the background, read the
single-electron field, compute the network's input, run the network over
overlapping tiles, then the rules after the network, then the run's defect map.
Every stage is a function of one signature, ``stage(state) -> int``: it reads and
writes the :class:`FrameState` and returns the number of mask pixels whose class
it changed (0 for a stage that only measures). :func:`predict_image` runs the list;
``ccdnb predict``, :func:`ccdnb.segment`, :func:`ccdnb.segment_fits`,
:func:`ccdnb.segment_files` and ``ccdnb monitor`` all reach it, and the masks
header records each stage's count as a HISTORY line (:mod:`ccdnb.io.fits`).

Any stage after the network can be switched off by name (``skip_stages`` in
Python, ``--skip-stage`` on the command line): the bare network is
``skip_stages=RULES``. The stage table of ``docs/pipeline.md`` is generated from
:data:`STAGES` (:func:`stage_table`).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..classes import BACKGROUND, N_CLASSES
from ..errors import CcdnbInputError, one_line
from .rules.signal_floor import (
    SIGNAL_SIGMA,
    best_signal_class,
    floor_pixels,
    input_threshold,
    relabel_glow_lumps,
)
from .tiling import (
    DEFAULT_MARGIN,
    MAX_AUTO_TILE,
    TileGrid,
    auto_batch_size,
    auto_tile,
    iter_tile_batches,
    stitch,
)

__all__ = ["FrameState", "Stage", "STAGES", "STAGE_NAMES", "RULES", "run_stages", "branch",
           "predict_image", "check_stage_names", "stage_table", "most_probable_class",
           "tile_for"]


def most_probable_class(probabilities) -> np.ndarray:
    """``argmax`` over the 4 classes of ``(..., 4)`` probabilities, as uint8.

    The same as ``np.argmax(p, axis=-1)`` (ties go to the lower class) in a
    third of the time: two pairwise maxima instead of a reduction over a short,
    strided last axis.
    """
    p = np.asarray(probabilities)
    if p.shape[-1] != N_CLASSES:
        return np.argmax(p, axis=-1).astype(np.uint8)
    upper = np.maximum(p[..., 2], p[..., 3]) > np.maximum(p[..., 0], p[..., 1])
    return np.where(upper, (p[..., 3] > p[..., 2]).view(np.uint8) + np.uint8(2),
                    (p[..., 1] > p[..., 0]).view(np.uint8)).astype(np.uint8, copy=False)


def tile_for(model, shape, margin: int = DEFAULT_MARGIN) -> int:
    """The tile side :func:`ccdnb.predict.tiling.auto_tile` chooses for ``model`` on an image
    of ``shape``.

    An engine may name the largest tile it runs efficiently (``max_auto_tile``:
    OpenVINO keeps its speed up to tiles of 2048 pixels and more, so larger
    tiles only save recomputed margins); others get :data:`ccdnb.predict.tiling.MAX_AUTO_TILE`.
    """
    return auto_tile(shape, margin, max_tile=getattr(model, "max_auto_tile", MAX_AUTO_TILE))


@dataclass
class FrameState:
    """What the stages of one image share: inputs, measurements and the mask.

    Attributes
    ----------
    image : ndarray, shape (H, W)
        Raw ADU; NaN/inf allowed.
    model : object
        Anything with ``predict_on_batch`` (a Keras model or a frozen engine).
    grid : ccdnb.predict.tiling.TileGrid
    batch_size : int
    signal_sigma : float
        The signal floor, read-noise sigma.
    want_probabilities : bool
    progress : callable or None
        ``progress(tiles_done, tiles_total)`` after every batch of tiles.
    defects : ndarray of bool (H, W) or None
        The run's known hot defects for this image (:meth:`ccdnb.defects.DefectMap.for_image`).
    background : ccdnb.normalize.Background or None
    field : ccdnb.electron_field.ElectronField or None
        The single-electron field, where the image resolves electrons.
    normalised : ndarray or None
        The network's input.
    mask : ndarray of uint8 or None
    signal_class : ndarray of uint8 or None
        Per pixel above the floor, the network's most probable class but background.
    probabilities : ndarray (H, W, 4) float32 or None
    floor_kept : (rows, cols) or None
        The pixels the signal floor took from background.
    quality_options : dict or None
        Make the quality mask and measure the single-electron rate (stage ``quality``)
        with these options of :func:`ccdnb.objects.quality_mask.quality_mask` (and
        ``readout_rows``/``readout_side``); None: neither is made.
    bias_columns : slice, sequence of slices or None
        Prescan/overscan columns (``BIASSEC``), for the quality mask and the rate.
    gain : float or None
        ADU per electron given by the caller (``--gain``), where no field gives one.
    serial : ndarray of bool or None
        The pixels the ``serial_hits`` stage renamed (kept when a quality mask is asked).
    quality : ndarray of uint16 or None
        The quality bit mask (:mod:`ccdnb.objects.quality_mask`).
    rate : ccdnb.skipper.electron_rate.ElectronRate or None
        The single-electron rate on the clean pixels.
    log : list of (str, int)
        Each stage run and the mask pixels it changed.
    """

    image: np.ndarray
    model: object
    grid: TileGrid
    batch_size: int
    signal_sigma: float = SIGNAL_SIGMA
    want_probabilities: bool = False
    progress: Callable | None = None
    defects: np.ndarray | None = None
    background: object = None
    field: object = None
    normalised: np.ndarray | None = None
    mask: np.ndarray | None = None
    signal_class: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    floor_kept: tuple | None = None
    quality_options: dict | None = None
    bias_columns: object = None
    gain: float | None = None
    serial: np.ndarray | None = None
    quality: np.ndarray | None = None
    quality_parameters: object = None
    quality_with_charge: bool = False
    rate: object = None
    log: list = dataclasses.field(default_factory=list)
    _electrons: np.ndarray | None = None

    @property
    def electrons(self) -> np.ndarray | None:
        """The image in electrons where a field is measured (computed once), else None."""
        if self.field is None:
            return None
        if self._electrons is None:
            self._electrons = self.field.electrons(self.image, self.background.pedestal)
        return self._electrons


# --- the stages -------------------------------------------------------------------------

def measure_background(state: FrameState) -> int:
    """Pedestal per row and read noise from the zero-charge peak (:mod:`ccdnb.normalize`)."""
    if state.background is None:
        from ..background import estimate_background

        state.background = estimate_background(state.image)
    return 0


def read_electron_field(state: FrameState) -> int:
    """Gain and single-electron field of an electron-resolving image
    (:mod:`ccdnb.electron_field`)."""
    from ..skipper.field import measure_electron_field

    state.field = measure_electron_field(state.image, state.background)
    return 0


def compute_network_input(state: FrameState) -> int:
    """Significance over the background and field, asinh-compressed
    (:func:`ccdnb.normalize.normalize_image`)."""
    from ..normalize import normalize_image

    state.normalised = normalize_image(state.image, state.background, state.field)
    return 0


def _predict_batch(model, tiles: np.ndarray, batch_size: int) -> np.ndarray:
    """Class probabilities (B, T, T, 4) of a batch of normalised tiles (B, T, T)."""
    count = len(tiles)
    if count < batch_size and not getattr(model, "any_batch_size", False):
        # one input shape for every call: Keras retraces its graph for a new one
        # (the frozen engines take any batch; padding would only waste their time)
        tiles = np.concatenate([tiles, np.zeros((batch_size - count,) + tiles.shape[1:],
                                                tiles.dtype)])
    out = np.asarray(model.predict_on_batch(tiles[..., None]), dtype=np.float32)
    if out.ndim != 4 or out.shape[-1] != N_CLASSES:
        raise CcdnbInputError(
            f"the model gives outputs of shape {out.shape[1:]}; expected (H, W, {N_CLASSES})")
    return out[:count]


def run_network(state: FrameState) -> int:
    """The U-Net over overlapping tiles, margins discarded on stitching
    (:mod:`ccdnb.predict.tiling`)."""
    grid, image = state.grid, state.image
    padded = grid.pad(state.normalised)
    state.mask = mask = np.zeros(image.shape, dtype=np.uint8)
    # the floor needs, above it only, the best class but background (floor_pixels)
    state.signal_class = signal_class = np.zeros(image.shape, dtype=np.uint8)
    probs = (np.zeros(image.shape + (N_CLASSES,), dtype=np.float32)
             if state.want_probabilities else None)
    floor = input_threshold(state.signal_sigma)
    done = 0
    for origins, tiles in iter_tile_batches(padded, grid, state.batch_size):
        try:
            out = _predict_batch(state.model, tiles, state.batch_size)
        except CcdnbInputError:
            raise
        except Exception as err:
            if done:  # the model did work on earlier batches: not a shape problem
                raise
            raise CcdnbInputError(
                f"the model cannot segment {grid.tile}x{grid.tile} tiles ({one_line(err)}); "
                f"use a tile size that is a multiple of the U-Net's 2**depth") from None
        stitch(mask, grid, origins, most_probable_class(out))
        significant = tiles >= floor
        best = np.zeros(significant.shape, dtype=np.uint8)
        best[significant] = best_signal_class(out[significant])
        stitch(signal_class, grid, origins, best)
        if probs is not None:
            stitch(probs, grid, origins, out)
        done += len(origins)
        if state.progress is not None:
            state.progress(done, len(grid))
    state.probabilities = probs
    return int(np.count_nonzero(mask))


def release_field_chance_groups(state: FrameState) -> int:
    """Cluster and hot-pixel groups whose charge the single-electron field makes by chance
    become background (:meth:`ccdnb.electron_field.ElectronField.release_chance_groups`)."""
    if state.field is None:
        return 0
    return state.field.release_chance_groups(state.mask, state.electrons)


def release_field_chance_neighbours(state: FrameState) -> int:
    """A cluster whose pixels beside its brightest hold what the field gives them keeps only
    its brightest (:meth:`ccdnb.electron_field.ElectronField.release_chance_neighbours`)."""
    if state.field is None:
        return 0
    return state.field.release_chance_neighbours(state.mask, state.electrons)


def release_noise_groups(state: FrameState) -> int:
    """Cluster and hot-pixel groups whose summed significance is read noise become background
    (:func:`ccdnb.predict.rules.noise_groups.release_noise_groups`)."""
    from .rules.noise_groups import release_noise_groups as release

    return release(state.mask, state.normalised)


def keep_signal_floor(state: FrameState) -> int:
    """No pixel at 5 sigma or more stays background: it gets the network's best other class;
    on a field, only above the field's floor in electrons
    (:func:`ccdnb.predict.rules.signal_floor.floor_pixels`)."""
    from ..normalize import network_input

    row_floor = None
    if state.field is not None:
        row_floor = network_input(state.field.signal_floor(state.background.noise))
    where = floor_pixels(state.mask, state.normalised, sigma=state.signal_sigma,
                         row_floor=row_floor)
    state.floor_kept = where
    if where[0].size:
        state.mask[where] = state.signal_class[where]
    return int(where[0].size)


def relabel_floor_glow_lumps(state: FrameState) -> int:
    """Pixels the floor kept that are lumps of a wide raised region are glowing
    (:func:`ccdnb.predict.rules.signal_floor.relabel_glow_lumps`)."""
    if not state.floor_kept:
        return 0
    return relabel_glow_lumps(state.mask, state.normalised, state.floor_kept)


def name_serial_register_hits(state: FrameState) -> int:
    """One-row hot groups whose charge scatters beyond one level are clusters
    (:func:`ccdnb.predict.rules.serial_hits.name_serial_hits`)."""
    from .rules.serial_hits import name_serial_hits

    before = state.mask.copy() if state.quality_options is not None else None
    renamed = name_serial_hits(state.mask, state.normalised, state.electrons,
                               None if state.field is None else state.field.noise_e)
    if before is not None:  # the quality mask's serial-register bit needs the pixels
        state.serial = state.mask != before
    return renamed


def clear_nonfinite(state: FrameState) -> int:
    """NaN/inf pixels hold no measurement: background, with certainty."""
    nonfinite = ~np.isfinite(state.image)
    if not nonfinite.any():
        return 0
    changed = int(np.count_nonzero(state.mask[nonfinite] != BACKGROUND))
    state.mask[nonfinite] = BACKGROUND
    if state.probabilities is not None:
        state.probabilities[nonfinite] = np.eye(N_CLASSES, dtype=np.float32)[BACKGROUND]
    return changed


def settle_defects(state: FrameState) -> int:
    """With a run's defect map: bright pixels on known defects are hot pixels, one- or
    two-pixel hot groups off every defect clusters (:func:`ccdnb.defects.settle_with_defects`)."""
    if state.defects is None:
        return 0
    from ..defects import settle_with_defects

    settled = settle_with_defects(state.mask, state.defects)
    changed = int(np.count_nonzero(settled != state.mask))
    state.mask = settled
    return changed


def make_quality_mask(state: FrameState) -> int:
    """When asked for: the quality bit mask (`ccdnb.objects.quality_mask`) and the
    single-electron rate on its clean pixels (`ccdnb.skipper.electron_rate`); no class changes."""
    if state.quality_options is None:
        return 0
    from ..objects.quality_mask import MaskParameters, clean, quality_mask
    from ..skipper.electron_rate import measure_electron_rate

    options = dict(state.quality_options)
    readout = {key: options[key] for key in ("readout_rows", "readout_side") if key in options}
    charge = {}
    if state.electrons is not None:
        charge["electrons"] = state.electrons
    elif state.gain is not None:
        charge.update(image=state.image, gain=state.gain, pedestal=state.background.pedestal)
    # loose clusters are judged against the field's rate
    field_rate = None if state.field is None else state.field.rate
    state.quality = quality_mask(state.mask, defects=state.defects, serial=state.serial,
                                 bias_columns=state.bias_columns, field_rate=field_rate,
                                 **charge, **options)
    state.quality_parameters = MaskParameters.of(**options)
    state.quality_with_charge = bool(charge)
    state.rate = measure_electron_rate(
        state.image, clean=clean(state.quality), background=state.background, field=state.field,
        gain=None if state.field is not None else state.gain, bias_columns=state.bias_columns,
        fit_comb=False, **readout)
    return 0


@dataclass(frozen=True)
class Stage:
    """One named step of the pipeline.

    Attributes
    ----------
    name : str
        What ``skip_stages`` and ``--skip-stage`` call it.
    run : callable
        ``run(state) -> int``: mask pixels changed.
    optional : bool
        Whether it can be switched off (the measurements and the network cannot).
    """

    name: str
    run: Callable[[FrameState], int]
    optional: bool = True

    @property
    def summary(self) -> str:
        """The first paragraph of the stage function's docstring, on one line."""
        doc = (self.run.__doc__ or "").strip().split("\n\n")[0]
        return re.sub(r":\w+:`", "`", " ".join(doc.split()))  # Sphinx roles to plain code


#: The pipeline, in order.
STAGES = (
    Stage("background", measure_background, optional=False),
    Stage("electron_field", read_electron_field, optional=False),
    Stage("network_input", compute_network_input, optional=False),
    Stage("network", run_network, optional=False),
    Stage("field_chance_groups", release_field_chance_groups),
    Stage("field_chance_neighbours", release_field_chance_neighbours),
    Stage("noise_groups", release_noise_groups),
    Stage("signal_floor", keep_signal_floor),
    Stage("glow_lumps", relabel_floor_glow_lumps),
    Stage("serial_hits", name_serial_register_hits),
    Stage("nonfinite", clear_nonfinite, optional=False),
    Stage("defect_map", settle_defects),
    Stage("quality", make_quality_mask),
)
STAGE_NAMES = tuple(stage.name for stage in STAGES)
#: The rules after the network: ``skip_stages=RULES`` gives the bare network's mask
#: (the defect map still applies where one is given).
RULES = ("field_chance_groups", "field_chance_neighbours", "noise_groups", "signal_floor",
         "glow_lumps", "serial_hits")


def check_stage_names(names) -> tuple:
    """``names`` as a tuple of stage names that can be switched off.

    Raises
    ------
    CcdnbInputError
        A name that is no stage, or one of a stage that cannot be switched off.
    """
    names = tuple(names or ())
    for name in names:
        stage = next((s for s in STAGES if s.name == name), None)
        if stage is None:
            raise CcdnbInputError(f"unknown stage {name!r}; the stages are "
                                  f"{', '.join(STAGE_NAMES)}")
        if not stage.optional:
            raise CcdnbInputError(f"stage {name!r} cannot be switched off; those that can: "
                                  f"{', '.join(s.name for s in STAGES if s.optional)}")
    return names


def run_stages(state: FrameState, skip_stages=(), only=None) -> FrameState:
    """Run :data:`STAGES` in order on ``state``, leaving out ``skip_stages``; log each.

    Parameters
    ----------
    state : FrameState
    skip_stages : sequence of str
        Stages to switch off (logged as skipped).
    only : sequence of str, optional
        Run only these stages (still in the list's order), e.g. everything up to the
        network once and the rules after it many times (``benchmarks/stage_ablation.py``).

    Returns
    -------
    FrameState
        ``state``, with ``state.log`` holding ``(name, changed)`` for every stage run and
        ``(name, None)`` for every stage skipped.
    """
    skip = set(check_stage_names(skip_stages))
    chosen = None if only is None else set(only)
    if chosen is not None and not chosen <= set(STAGE_NAMES):
        raise CcdnbInputError(f"unknown stages {sorted(chosen - set(STAGE_NAMES))}")
    for stage in STAGES:
        if chosen is not None and stage.name not in chosen:
            continue
        if stage.name in skip:
            state.log.append((stage.name, None))
            continue
        state.log.append((stage.name, int(stage.run(state))))
    return state


def branch(state: FrameState) -> FrameState:
    """A copy of ``state`` whose mask and log can change without touching ``state``."""
    return dataclasses.replace(state, mask=None if state.mask is None else state.mask.copy(),
                               probabilities=None if state.probabilities is None
                               else state.probabilities.copy(),
                               floor_kept=None, log=list(state.log))


def predict_image(model, image, *, tile: int | None = None, margin: int = DEFAULT_MARGIN,
                  batch_size: int | None = None, probabilities: bool = False, progress=None,
                  signal_floor=SIGNAL_SIGMA, background=None, skip_stages=(),
                  defects=None, quality=None, bias_columns=None, gain: float | None = None,
                  return_state: bool = False):
    """Segment a whole image: run the stage list (:data:`STAGES`).

    Parameters
    ----------
    model : keras.Model
        Input (B, H, W, 1) normalised image, output (B, H, W, 4) class probabilities.
    image : array_like, shape (H, W)
        Raw ADU, any size; NaN/inf pixels allowed (their class is background).
    tile : int or None
        Side of the square tiles fed to the model (a multiple of ``2**depth``
        of the U-Net); None: sized to the image and the engine (:func:`tile_for`).
    margin : int
        Pixels discarded on each side of a tile when stitching; keep it above
        the model's receptive-field radius so no seam appears.
    batch_size : int or None
        Tiles per model call; memory grows with it. None: about 1.2 Mpix per
        call (:func:`ccdnb.predict.tiling.auto_batch_size`).
    probabilities : bool
        Also return the stitched class probabilities.
    progress : callable, optional
        Called as ``progress(tiles_done, tiles_total)`` after every batch.
    signal_floor : float or None
        The significance (read-noise sigma) at and above which no pixel stays
        background (stage ``signal_floor``). None switches off every rule after
        the network (:data:`RULES`), as ``skip_stages=RULES`` does.
    background : ccdnb.normalize.Background, optional
        The image's :func:`ccdnb.normalize.estimate_background`, when known.
    skip_stages : sequence of str
        Stages to leave out (:data:`STAGE_NAMES`; those marked optional).
    defects : ndarray of bool, shape (H, W), optional
        The run's known hot defects of this image (stage ``defect_map``).
    quality : dict, optional
        Make the quality mask and measure the single-electron rate (stage ``quality``),
        with these options (``{}`` for the defaults; see :class:`FrameState`).
    bias_columns : slice or sequence of slices, optional
        The image's prescan/overscan columns, for the quality mask and the rate.
    gain : float, optional
        ADU per electron, for the quality mask's charge where no field gives it.
    return_state : bool
        Return the :class:`FrameState` instead (mask, probabilities, background,
        field, the stage log).

    Returns
    -------
    mask : ndarray, shape (H, W), uint8
        Class per pixel (0 background, 1 glowing, 2 hot pixel, 3 cluster).
    probs : ndarray, shape (H, W, 4), float32
        Only with ``probabilities=True``: ``(mask, probs)`` is returned.
    """
    image = np.asarray(image)
    if image.ndim != 2 or image.size == 0:
        raise CcdnbInputError(f"expected a non-empty 2-D image, got shape {image.shape}")
    skip = tuple(check_stage_names(skip_stages))
    if signal_floor is None:
        skip = tuple(dict.fromkeys(skip + RULES))
    if defects is not None:
        defects = np.asarray(defects, dtype=bool)
        if defects.shape != image.shape:
            raise CcdnbInputError(f"the defect map's shape {defects.shape} is not the "
                                  f"image's {image.shape}")
    grid = TileGrid.for_image(image.shape,
                              tile if tile is not None else tile_for(model, image.shape, margin),
                              margin)
    state = FrameState(image=image, model=model, grid=grid,
                       batch_size=batch_size if batch_size is not None
                       else auto_batch_size(grid.tile),
                       signal_sigma=SIGNAL_SIGMA if signal_floor is None else float(signal_floor),
                       want_probabilities=probabilities, progress=progress, defects=defects,
                       background=background,
                       quality_options=None if quality is None else dict(quality),
                       bias_columns=bias_columns, gain=gain)
    run_stages(state, skip)
    if return_state:
        return state
    return (state.mask, state.probabilities) if probabilities else state.mask


def stage_table() -> str:
    """The stage list as a Markdown table (``docs/pipeline.md`` is generated from it)."""
    lines = ["| # | stage | can be switched off | what it does |", "|---|---|---|---|"]
    for number, stage in enumerate(STAGES, start=1):
        lines.append(f"| {number} | `{stage.name}` | {'yes' if stage.optional else 'no'} "
                     f"| {stage.summary} |")
    return "\n".join(lines) + "\n"


#: The generated table sits between these lines of ``docs/pipeline.md``.
TABLE_BEGIN = "<!-- stage table: generated from ccdnb.predict.pipeline.STAGES by " \
              "`python -m ccdnb.predict docs/pipeline.md`; do not edit -->"
TABLE_END = "<!-- end of stage table -->"


def write_stage_table(path) -> bool:
    """Put :func:`stage_table` between the markers of the page at ``path``; True if it changed."""
    from pathlib import Path

    path = Path(path)
    text = path.read_text()
    head, rest = text.split(TABLE_BEGIN, 1)
    _, tail = rest.split(TABLE_END, 1)
    new = f"{head}{TABLE_BEGIN}\n{stage_table()}{TABLE_END}{tail}"
    if new != text:
        path.write_text(new)
    return new != text

