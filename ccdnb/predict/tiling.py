"""Overlapping tiles over an image of any size, and stitching of their centres.

A tile of ``tile`` pixels keeps only its centre, ``tile - 2 * margin`` pixels
wide, on stitching: the network sees ``margin`` pixels of real context on every
side of every kept pixel, so no seam appears at tile borders (the thesis saw
false "glowing" lines every 256 pixels without this). At the image border the
context comes from a reflection of the image, which is also how images smaller
than a tile are padded.

Tiles are cut lazily and handed out in batches (:func:`iter_tile_batches`), so
memory stays bounded by one batch, whatever the image size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CcdnbInputError

__all__ = ["DEFAULT_MARGIN", "MAX_AUTO_TILE", "kept_starts", "auto_tile", "auto_batch_size",
           "TileGrid", "iter_tile_batches", "stitch"]


def kept_starts(length: int, tile: int, margin: int) -> list[int]:
    """Return where each tile's kept centre starts along one axis (image coordinates).

    The centres, ``tile - 2 * margin`` long, start every centre length from 0;
    the last one is moved back so that it ends at ``length`` (it then overlaps
    its neighbour, which does no harm: both hold centre predictions). An axis
    shorter than one centre gets a single tile.
    """
    step = tile - 2 * margin
    last = max(0, length - step)
    starts = list(range(0, last, step))
    starts.append(last)
    return starts


#: Tile sides chosen by :func:`auto_tile` are multiples of this (a U-Net of
#: depth 5 or less accepts them).
TILE_UNIT = 32
#: Largest tile :func:`auto_tile` chooses: beyond it the activations of one
#: tile outgrow the CPU's caches and throughput drops (``benchmarks/predict_speed.py``).
MAX_AUTO_TILE = 512
#: Pixels discarded on each side of a tile, the default everywhere: the context the
#: shipped U-Nets need for tiled masks to show no seam (``tests/test_tiling.py``).
DEFAULT_MARGIN = 32
#: Fixed cost of one tile in :func:`auto_tile`, in pixels' worth of compute.
TILE_OVERHEAD_PX = 16_384


def auto_tile(shape, margin: int = DEFAULT_MARGIN, *, max_tile: int = MAX_AUTO_TILE) -> int:
    """The tile side that segments an image of ``shape`` with the least computation.

    Every tile recomputes its ``margin`` on each side, so small tiles waste much
    of their work (a 256-pixel tile with a 32-pixel margin keeps 56 % of it) and
    one tile larger than the image wastes the padding. Among multiples of
    :data:`TILE_UNIT` above ``2 * margin`` and up to ``max_tile`` (powers of two
    from 256 left out: their rows alias in the caches), this picks the side that
    minimises ``number of tiles * (tile**2 + TILE_OVERHEAD_PX)``.

    Parameters
    ----------
    shape : (int, int)
        Image height and width.
    margin : int
        Pixels discarded on each side of a tile.
    max_tile : int
        Largest side considered.

    Returns
    -------
    int
    """
    height, width = (int(n) for n in shape)
    smallest = (2 * int(margin)) // TILE_UNIT * TILE_UNIT + TILE_UNIT
    best, best_cost = None, None
    for tile in range(smallest, max(smallest, int(max_tile)) + 1, TILE_UNIT):
        if tile >= 256 and tile & (tile - 1) == 0 and tile != smallest:
            # power-of-two rows alias in the CPU caches: 512-pixel tiles ran 70 %
            # slower than 480-pixel ones (benchmarks/predict_speed.py --sweep-tiles)
            continue
        count = (len(kept_starts(height, tile, margin)) * len(kept_starts(width, tile, margin)))
        cost = count * (tile * tile + TILE_OVERHEAD_PX)
        if best_cost is None or cost < best_cost:
            best, best_cost = tile, cost
    return best


#: Pixels per model call when the batch size is left to :func:`auto_batch_size`.
BATCH_PIXELS = 1_200_000


def auto_batch_size(tile: int) -> int:
    """Tiles per model call for ``tile``-pixel tiles: about :data:`BATCH_PIXELS`, at least one.

    A fixed pixel budget, not a fixed count, bounds memory whatever the tile:
    eight 1088-pixel tiles per call took a 4096 x 6144 frame to 2.8 GB, one
    to 0.85 GB, and ran faster (``benchmarks/predict_speed.py``). 18 tiles of
    256, 5 of 480, 1 of 1088.
    """
    return max(1, BATCH_PIXELS // (int(tile) * int(tile)))


@dataclass(frozen=True)
class TileGrid:
    """Where the tiles of one image lie.

    Tile ``(r, c)`` (its kept centre starting at image row ``r``, column ``c``)
    covers the padded image ``[r : r + tile, c : c + tile]``: the padding puts
    ``margin`` reflected pixels before the image and enough after it.
    """

    shape: tuple[int, int]
    tile: int
    margin: int
    origins: tuple[tuple[int, int], ...]
    """Kept-centre starts ``(row, col)`` in image coordinates, row-major."""

    @classmethod
    def for_image(cls, shape, tile: int | None = 256, margin: int = DEFAULT_MARGIN) -> "TileGrid":
        """Plan the tiles of an image of ``shape`` (H, W); ``tile=None``: :func:`auto_tile`.

        Raises
        ------
        CcdnbInputError
            When ``tile`` is not larger than ``2 * margin`` or ``margin`` < 0.
        """
        if tile is None:
            tile = auto_tile(shape, max(int(margin), 0))
        if margin < 0 or tile <= 2 * margin:
            raise CcdnbInputError(
                f"tile size {tile} must exceed twice the margin ({margin}); "
                f"choose a larger --tile")
        height, width = (int(n) for n in shape)
        origins = tuple((r, c) for r in kept_starts(height, tile, margin)
                        for c in kept_starts(width, tile, margin))
        return cls((height, width), tile, margin, origins)

    @property
    def kept(self) -> int:
        """Side of a tile's kept centre."""
        return self.tile - 2 * self.margin

    def __len__(self) -> int:
        return len(self.origins)

    def padding(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """``((top, bottom), (left, right))`` padding that every tile fits into."""
        return tuple((self.margin, max(self.margin, self.tile - self.margin - n))
                     for n in self.shape)

    def pad(self, image: np.ndarray) -> np.ndarray:
        """Pad ``image`` (H, W, ...) by reflection so that every tile lies inside it."""
        widths = self.padding() + ((0, 0),) * (image.ndim - 2)
        # "reflect" needs at least two pixels along an axis; one pixel is repeated.
        mode = "reflect" if min(self.shape) > 1 else "edge"
        return np.pad(image, widths, mode=mode)

    def kept_region(self, origin) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
        """Return ``(image_slices, tile_slices)``: where a tile's centre goes and comes from."""
        image_slices, tile_slices = [], []
        for start, size in zip(origin, self.shape):
            stop = min(start + self.kept, size)
            image_slices.append(slice(start, stop))
            tile_slices.append(slice(self.margin, self.margin + stop - start))
        return tuple(image_slices), tuple(tile_slices)


def iter_tile_batches(padded: np.ndarray, grid: TileGrid, batch_size: int):
    """Yield ``(origins, tiles)`` batches cut from a padded image.

    Parameters
    ----------
    padded : ndarray, shape (H', W')
        The image padded with :meth:`TileGrid.pad`.
    grid : TileGrid
        The tiles to cut.
    batch_size : int
        Tiles per batch (the last batch may hold fewer).

    Yields
    ------
    origins : list of (int, int)
        Kept-centre starts of the tiles in the batch.
    tiles : ndarray, shape (B, tile, tile), same dtype as ``padded``
        Only one batch is in memory at a time.
    """
    if batch_size < 1:
        raise CcdnbInputError(f"batch size must be at least 1, got {batch_size}")
    size = grid.tile
    for first in range(0, len(grid.origins), batch_size):
        origins = grid.origins[first:first + batch_size]
        tiles = np.empty((len(origins), size, size), dtype=padded.dtype)
        for k, (row, col) in enumerate(origins):
            # Tile (r, c) starts at padded (r, c): the padding equals the margin.
            tiles[k] = padded[row:row + size, col:col + size]
        yield list(origins), tiles


def stitch(out: np.ndarray, grid: TileGrid, origins, tile_outputs) -> None:
    """Write the kept centres of ``tile_outputs`` (B, tile, tile, ...) into ``out`` (H, W, ...)."""
    for origin, values in zip(origins, tile_outputs):
        image_slices, tile_slices = grid.kept_region(origin)
        out[image_slices] = values[tile_slices]
