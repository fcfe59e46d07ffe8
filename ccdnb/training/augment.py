"""Data augmentation on float ADU images, image and class mask transformed together.

Built on imgaug. Geometric transforms (flips, 90-degree rotations, affine
rotation/translation/scale, crops) move the image and its
:class:`~imgaug.augmentables.segmaps.SegmentationMapsOnImage` mask together;
intensity transforms (inversion about the pedestal, gain and pedestal jitter,
extra read noise) are custom augmenters working on float data with no 0-255 or
0-1 range assumed.

Two details matter for CCD images:

- imgaug fills the area a transform uncovers with an *integer* ``cval`` (it
  casts the fill value to int even for float images). :func:`augment_pair`
  therefore carries a second channel of ones through the transforms: where it
  comes out 0 no input pixel landed, and the image gets NaN there, a pixel
  without a measurement, exactly as real data mark missing pixels.
  :func:`ccdnb.normalize.estimate_background` ignores NaN and
  :func:`ccdnb.normalize.normalize_image` maps it to 0. (A fill with any ADU
  value would add a flat, noiseless patch: a spike in the pixel histogram that
  the zero-charge-peak estimate could take for the background.)
- Geometric transforms use nearest-neighbour interpolation (``order=0``) for the
  image as for the mask, so every output pixel is a real input pixel: the read
  noise stays white with its true sigma, and image and mask stay exactly aligned
  (bilinear interpolation would smooth the noise and smear one-pixel hot
  columns over two half-bright pixels).

Every random step is seeded: :func:`build_augmenter` seeds the whole augmenter
tree, and :class:`AugmentedSequence` reseeds a copy per batch from
``(seed, epoch, batch index)``.

Training does not augment in ADU. :class:`AugmentedSequence` estimates each
image's background once (:func:`ccdnb.normalize.standardize_image`: the image in
read-noise sigma above its row pedestals) and augments those units per batch
(:func:`augment_standardized`): the geometric transforms as above, the extra
read noise as ``(z + s * n) / sqrt(1 + s**2)`` (what re-normalising a noisier
image gives), the inversion as a sign flip. Gain, pedestal and row-drift
jitter are identities there, since the normalisation removes them. The
background estimate was four fifths of the input pipeline's time; made once,
the pipeline no longer holds a core while the network waits.

imgaug 0.4's ``SomeOf``/``OneOf`` use ``np.bool`` (removed in numpy 1.24), so
only ``Sequential`` and ``Sometimes`` are used here.
"""

from __future__ import annotations

import math
import os

import imgaug.augmenters as iaa
import keras
import numpy as np
from imgaug.augmentables.segmaps import SegmentationMapsOnImage
from imgaug.augmenters import meta

from ..classes import N_CLASSES, one_hot
from ..detector import add_read_noise, invert_about_pedestal, scale_gain, shift_pedestal
from ..normalize import estimate_background, network_input, normalize_image, standardize_image
from ..seeds import derive_seed

__all__ = ["OPTION_DEFAULTS", "PRESETS", "InvertAboutPedestal", "GainJitter", "PedestalJitter",
           "AddReadNoise", "augmenter_options", "build_augmenter", "augment_pair",
           "augment_standardized", "standardize_images", "transform_gallery", "AugmentedSequence"]

#: Every option of :func:`build_augmenter`, with the value that switches it off.
OPTION_DEFAULTS = dict(
    crop_size=None,      # int or (h, w): random crop of that size (no resizing)
    flip=False,          # left-right and up-down flips, each with probability 0.5
    rot90=False,         # rotation by 0, 90, 180 or 270 degrees
    affine=0.0,          # probability of an affine transform with the three ranges below
    rotate=0.0,          # affine rotation drawn from [-rotate, rotate] degrees
    translate=0.0,       # affine shift drawn from [-translate, translate] x image size
    scale=(1.0, 1.0),    # affine zoom factor range
    invert=0.0,          # probability of inverting the image about its per-row pedestal
    gain=None,           # (lo, hi): multiply (pedestal-relative) ADU by a factor in it
    pedestal_shift=0.0,  # add an offset drawn from [-s, s] read-noise sigma
    row_drift=0.0,       # add per-row offsets drawn from [-d, d] read-noise sigma
    noise=0.0,           # add Gaussian noise of [0, noise] read-noise sigma
)

#: Named option sets. ``thesis``: the thesis's rotations and colour inversion;
#: ``default``: a richer set for training; ``none``: identity. ``default`` leaves
#: out gain, pedestal and row-drift jitter: normalize_image removes them exactly
#: (to float rounding), so before it they would only cost time. They are there
#: for inputs that are not normalised that way.
PRESETS = {
    "none": {},
    "thesis": dict(rot90=True, invert=0.5),
    "default": dict(flip=True, rot90=True, affine=0.3, rotate=15.0, translate=0.1,
                    scale=(0.9, 1.1), invert=0.25, noise=0.5),
}


class _FloatIntensity(meta.Augmenter):
    """Base of the intensity augmenters: apply :meth:`_apply` to each float image."""

    def _augment_batch_(self, batch, random_state, parents, hooks):
        if batch.images is None:
            return batch
        for i, image in enumerate(batch.images):
            plane = (image[..., 0] if image.ndim == 3 else image).astype(np.float32)
            if image.ndim == 3 and image.shape[-1] > 1:  # augment_pair's validity channel
                plane[image[..., 1] < 0.5] = np.nan
            out = self._apply(plane, random_state)
            if image.ndim == 3:
                image[..., 0] = out
            else:
                batch.images[i] = out.astype(image.dtype, copy=False)
        return batch

    def _apply(self, image, rng):
        raise NotImplementedError


class InvertAboutPedestal(_FloatIntensity):
    """The thesis's "colour inversion" in ADU: ``2 * pedestal_row - x``.

    Signals become negative while pedestal, row drift and noise keep their
    statistics, so the network must recognise objects by shape, not by sign.
    """

    def _apply(self, image, rng):
        return invert_about_pedestal(image)

    def get_parameters(self):
        return []


class GainJitter(_FloatIntensity):
    """Multiply the (pedestal-relative) image by a gain factor drawn from ``gain``."""

    def __init__(self, gain=(0.5, 2.0), seed=None, name=None):
        super().__init__(seed=seed, name=name)
        self.gain = tuple(float(g) for g in gain)

    def _apply(self, image, rng):
        return scale_gain(image, np.float32(rng.uniform(*self.gain)), pedestal=0.0)

    def get_parameters(self):
        return [self.gain]


class PedestalJitter(_FloatIntensity):
    """Add a global offset and per-row offsets (detector drift), in read-noise sigma."""

    def __init__(self, shift=100.0, row_drift=0.3, seed=None, name=None):
        super().__init__(seed=seed, name=name)
        self.shift = float(shift)
        self.row_drift = float(row_drift)

    def _apply(self, image, rng):
        noise = estimate_background(image).noise
        offset = rng.uniform(-self.shift, self.shift)
        rows = rng.uniform(-self.row_drift, self.row_drift, size=image.shape[0])
        shift = np.float32(noise) * (offset + rows[:, None]).astype(np.float32)
        return shift_pedestal(image, shift)

    def get_parameters(self):
        return [self.shift, self.row_drift]


class AddReadNoise(_FloatIntensity):
    """Add Gaussian noise of up to ``scale`` times the image's own read noise."""

    def __init__(self, scale=0.5, seed=None, name=None):
        super().__init__(seed=seed, name=name)
        self.scale = float(scale)

    def _apply(self, image, rng):
        sigma = rng.uniform(0.0, self.scale) * estimate_background(image).noise
        return add_read_noise(image, sigma, rng)

    def get_parameters(self):
        return [self.scale]


def _pair(size):
    return (int(size), int(size)) if np.isscalar(size) else tuple(int(s) for s in size)


def augmenter_options(preset="default", **overrides) -> dict:
    """Return the full option dict of ``preset`` updated with ``overrides``.

    Raises
    ------
    ValueError
        For an unknown preset or option name.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown augmentation preset {preset!r}; "
                         f"choose from {', '.join(PRESETS)}")
    unknown = set(overrides) - set(OPTION_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown augmentation option(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(OPTION_DEFAULTS)}")
    return {**OPTION_DEFAULTS, **PRESETS[preset], **overrides}


def build_augmenter(preset="default", *, seed=0, **overrides) -> iaa.Sequential:
    """Build a seeded imgaug augmenter from named options.

    Parameters
    ----------
    preset : {"default", "thesis", "none"}
        Starting option set (see :data:`PRESETS`).
    seed : int
        Seeds every augmenter in the tree: the same seed gives the same draws.
    **overrides
        Any key of :data:`OPTION_DEFAULTS`.

    Returns
    -------
    imgaug.augmenters.Sequential
        Apply it with :func:`augment_pair` (which supplies the pedestal-relative
        data the fill value and intensity transforms expect). The ``invert``
        probability is kept as its ``ccdnb_invert`` attribute: the inversion is
        a sign flip of the normalised input, made by :class:`AugmentedSequence`.
    """
    opt = augmenter_options(preset, **overrides)
    steps = []
    if opt["crop_size"] is not None:
        height, width = _pair(opt["crop_size"])
        steps.append(iaa.CropToFixedSize(width=width, height=height))
    if opt["flip"]:
        steps += [iaa.Fliplr(0.5), iaa.Flipud(0.5)]
    if opt["rot90"]:
        steps.append(iaa.Rot90([0, 1, 2, 3], keep_size=False))
    if opt["affine"] > 0:
        t = float(opt["translate"])
        steps.append(iaa.Sometimes(opt["affine"], iaa.Affine(
            rotate=(-opt["rotate"], opt["rotate"]),
            translate_percent={"x": (-t, t), "y": (-t, t)},
            scale=tuple(opt["scale"]), order=0, cval=0, mode="constant")))
    geometric = len(steps)
    if opt["gain"] is not None:
        steps.append(GainJitter(opt["gain"]))
    if opt["pedestal_shift"] > 0 or opt["row_drift"] > 0:
        steps.append(PedestalJitter(opt["pedestal_shift"], opt["row_drift"]))
    if opt["noise"] > 0:
        steps.append(AddReadNoise(opt["noise"]))
    augmenter = iaa.Sequential(steps)
    augmenter.seed_(int(seed))
    # What augment_standardized needs: the geometric steps come first, and the
    # extra noise in read-noise sigma.
    augmenter.ccdnb_geometric_steps = geometric
    augmenter.ccdnb_noise = float(opt["noise"])
    # The thesis's colour inversion acts on the network's input, where it is a
    # sign flip (AugmentedSequence applies it): in ADU an inverted image holds
    # charge below the pedestal, which no detector makes and which the
    # zero-charge-peak background estimate rightly does not expect.
    augmenter.ccdnb_invert = float(opt["invert"])
    return augmenter


def augment_pair(augmenter, image, label):
    """Augment an image and its class mask together.

    Parameters
    ----------
    augmenter : imgaug.augmenters.Augmenter
        Typically from :func:`build_augmenter`; its random state advances.
    image : array_like, shape (H, W)
        ADU (pedestal included), any real dtype.
    label : array_like of int, shape (H, W)
        Class mask.

    Returns
    -------
    image : ndarray, float32
        The augmented image in ADU; NaN where a transform uncovered the frame
        (no input pixel landed there).
    label : ndarray, uint8
        The mask, transformed with nearest-neighbour and filled with background.
    """
    image = np.asarray(image, dtype=np.float32)
    label = np.asarray(label)
    if image.ndim != 2 or image.shape != label.shape:
        raise ValueError(f"image {image.shape} and label {label.shape} must be equal 2-D shapes")
    finite = np.isfinite(image)
    # Pedestal-relative values keep the float32 arithmetic of the transforms exact.
    reference = np.float32(np.median(image[finite])) if finite.any() else np.float32(0)
    planes = np.stack([image - reference, np.ones_like(image)], axis=-1)
    segmap = SegmentationMapsOnImage(label.astype(np.int32), shape=image.shape)
    out, out_map = augmenter(image=planes, segmentation_maps=segmap)
    augmented = out[..., 0] + reference
    augmented[out[..., 1] < 0.5] = np.nan
    return augmented, out_map.get_arr().astype(np.uint8)


def augment_standardized(augmenter, z, label, rng):
    """Augment an image in read-noise sigma and its class mask together (training's path).

    Parameters
    ----------
    augmenter : imgaug.augmenters.Sequential
        From :func:`build_augmenter`; its geometric steps are applied (their
        random state advances) and its extra read noise is drawn from ``rng``.
    z : ndarray, shape (H, W), float32
        :func:`ccdnb.normalize.standardize_image` of the ADU image (NaN: no measurement).
    label : ndarray of int, shape (H, W)
    rng : numpy.random.Generator

    Returns
    -------
    z : ndarray, float32
        Augmented significance; NaN where a transform uncovered the frame.
    label : ndarray, uint8
    """
    steps = list(augmenter)[: getattr(augmenter, "ccdnb_geometric_steps", len(augmenter))]
    if steps:
        finite = np.isfinite(z)
        planes = np.stack([np.where(finite, z, 0.0).astype(np.float32),
                           finite.astype(np.float32)], axis=-1)
        segmap = SegmentationMapsOnImage(np.asarray(label).astype(np.int32), shape=z.shape)
        out, out_map = iaa.Sequential(steps)(image=planes, segmentation_maps=segmap)
        z = out[..., 0]
        z[out[..., 1] < 0.5] = np.nan
        label = out_map.get_arr()
    else:
        z = np.array(z, dtype=np.float32)
    scale = getattr(augmenter, "ccdnb_noise", 0.0)
    if scale > 0:
        # Noise of s read-noise sigma added in ADU, then normalised again: the
        # estimated noise becomes sqrt(1 + s**2) times the old one.
        s = np.float32(rng.uniform(0.0, scale))
        z += s * rng.standard_normal(z.shape, dtype=np.float32)
        z *= np.float32(1.0 / np.sqrt(1.0 + s * s))
    return z, np.asarray(label).astype(np.uint8, copy=False)


def standardize_images(images, *, workers=None) -> np.ndarray:
    """:func:`ccdnb.normalize.standardize_image` of every image, on a thread pool.

    Parameters
    ----------
    images : ndarray, shape (N, H, W)
    workers : int, optional
        Threads (the background estimate is mostly NumPy, which releases the
        GIL); default: the cores this process may use.

    Returns
    -------
    ndarray, shape (N, H, W), float32
    """
    return _per_image(standardize_image, images, workers)


def _per_image(function, images, workers=None) -> np.ndarray:
    """``function(image)`` of every image into one float32 stack, on a thread pool."""
    from concurrent.futures import ThreadPoolExecutor

    out = np.empty(np.shape(images), np.float32)

    def one(i):
        out[i] = function(images[i])

    workers = workers or len(os.sched_getaffinity(0))
    with ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
        list(pool.map(one, range(len(images))))
    return out


def transform_gallery(image, label, *, seed=0, crop_size=None):
    """Apply each transform alone (always on) to one example, for figures.

    Parameters
    ----------
    image, label : ndarray, shape (H, W)
    seed : int
    crop_size : int, optional
        Size of the crop example; half the image by default.

    Returns
    -------
    list of (str, ndarray, ndarray)
        ``(name, augmented image, augmented label)``, the original first.
    """
    crop = crop_size or max(1, min(np.shape(image)) // 2)
    transforms = [
        ("original", iaa.Identity()),
        ("flip left-right", iaa.Fliplr(1.0)),
        ("rotate 90", iaa.Rot90(1, keep_size=False)),
        ("affine", iaa.Affine(rotate=(-30, 30), translate_percent=(-0.1, 0.1),
                              scale=(0.8, 1.2), order=0, cval=0, mode="constant")),
        ("crop", iaa.CropToFixedSize(width=crop, height=crop)),
        ("inversion", InvertAboutPedestal()),
        ("gain x0.5-2", GainJitter((0.5, 2.0))),
        ("pedestal + row drift", PedestalJitter(100.0, 3.0)),
        ("extra noise", AddReadNoise(1.0)),
    ]
    gallery = []
    for k, (name, augmenter) in enumerate(transforms):
        augmenter.seed_(derive_seed(seed, k))
        gallery.append((name, *augment_pair(augmenter, image, label)))
    return gallery


class AugmentedSequence(keras.utils.PyDataset):
    """Batches of augmented, normalised images and one-hot masks, made on the fly.

    The background of every image is estimated once, when the sequence is made
    (on a thread pool): without an augmenter the network inputs
    (:func:`ccdnb.normalize.normalize_image` of the whole images) are kept;
    with one, the images in read-noise sigma
    (:func:`ccdnb.normalize.standardize_image`). Each sample is then: augment the
    whole image in those units (:func:`augment_standardized`), map it to the
    network's input (``asinh``, as :func:`~ccdnb.normalize.normalize_image` does
    to the whole image before tiling, so crops share the whole image's
    statistics), flip its sign for the thesis's inversion, then take a random
    crop (if ``crop_size`` is given). Nothing is copied per epoch.

    Parameters
    ----------
    images : ndarray, shape (N, H, W)
        ADU images.
    labels : ndarray of int, shape (N, H, W)
        Class masks.
    batch_size : int
    augmenter : imgaug.augmenters.Augmenter, optional
        From :func:`build_augmenter`; None gives the plain (validation) path.
    crop_size : int or (int, int), optional
        Random crops of this size (the whole image when None).
    steps_per_epoch : int, optional
        Batches per epoch. None: one pass over the images, the last batch
        possibly smaller. Otherwise batches of ``batch_size`` drawn from
        consecutive shuffled passes.
    shuffle : bool
        Shuffle the order each epoch.
    seed : int
        Order, crops and augmentation of batch ``i`` in epoch ``e`` depend only on
        ``(seed, e, i)``: the same in any worker and on any re-run.
    teacher : object with ``predict_on_batch``, optional
        A trained network (:func:`ccdnb.predict.runtime.open_model`'s predictor) whose
        class probabilities on each batch's inputs are blended into the targets:
        ``y = (1 - teacher_weight) * one_hot + teacher_weight * teacher(x)``. With
        cross-entropy this is knowledge distillation (Hinton et al. 2015, at temperature
        1): a fine-tune learns the truth while it keeps what the teacher got right.
    teacher_weight : float
        The teacher's share of the targets, in (0, 0.5] (the truth's class stays the
        targets' largest, so the IoU metrics read the truth).
    on_glow_weight : float
        Above 1, batches come with per-pixel sample weights: this on the clusters that sit
        on glow (:func:`ccdnb.training.emphasis.clusters_on_glow` of the augmented mask), 1
        elsewhere.
    **kwargs
        Passed to :class:`keras.utils.PyDataset` (``workers``,
        ``use_multiprocessing``, ``max_queue_size``).

    Notes
    -----
    ``__getitem__`` returns ``x`` (B, h, w, 1) float32 and ``y`` (B, h, w, 4)
    float32, and ``w`` (B, h, w) float32 after them with an ``on_glow_weight`` above 1.
    With 90-degree rotations of non-square images, give a ``crop_size`` that fits both
    orientations.
    """

    def __init__(self, images, labels, *, batch_size, augmenter=None, crop_size=None,
                 steps_per_epoch=None, shuffle=True, seed=0, teacher=None,
                 teacher_weight=0.5, on_glow_weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.images = np.asarray(images)
        self.labels = np.asarray(labels)
        if self.images.ndim != 3 or self.images.shape != self.labels.shape:
            raise ValueError(f"images {self.images.shape} and labels {self.labels.shape} "
                             "must both be (N, H, W)")
        if len(self.images) == 0:
            raise ValueError("no images to draw batches from")
        if self.labels.min() < 0 or self.labels.max() >= N_CLASSES:
            raise ValueError(f"labels must be class ids 0..{N_CLASSES - 1}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.augmenter = augmenter
        self.crop_size = None if crop_size is None else _pair(crop_size)
        if self.crop_size is not None and any(
                c < 1 or c > s for c, s in zip(self.crop_size, self.images.shape[1:])):
            raise ValueError(f"crop_size {self.crop_size} must fit in the images "
                             f"{self.images.shape[1:]}")
        # What does not change between epochs, computed once (see the class notes).
        if augmenter is None:
            self._prepared = _per_image(normalize_image, self.images)
        else:
            self._prepared = standardize_images(self.images)
        if teacher is not None and not 0.0 < float(teacher_weight) <= 0.5:
            raise ValueError(f"teacher_weight must be in (0, 0.5], got {teacher_weight}")
        self.teacher, self.teacher_weight = teacher, float(teacher_weight)
        if float(on_glow_weight) < 1.0:
            raise ValueError(f"on_glow_weight must be at least 1, got {on_glow_weight}")
        self.on_glow_weight = float(on_glow_weight)
        self.steps_per_epoch = None if not steps_per_epoch else int(steps_per_epoch)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self._epoch = 0
        self._orders = {}

    @property
    def sample_weighted(self) -> bool:
        """Whether batches carry per-pixel sample weights (an ``on_glow_weight`` above 1)."""
        return self.on_glow_weight > 1.0

    @property
    def epoch(self) -> int:
        """The epoch that ``sequence[i]`` serves (:meth:`on_epoch_end` calls so far)."""
        return self._epoch

    def _epoch_order(self, epoch: int) -> np.ndarray:
        if epoch not in self._orders:
            n = len(self.images)
            needed = n if self.steps_per_epoch is None else self.steps_per_epoch * self.batch_size
            passes = max(1, math.ceil(needed / n))
            rng = np.random.default_rng(derive_seed(self.seed, epoch))
            if not self.shuffle:
                order = np.tile(np.arange(n), passes)
            else:
                order = np.concatenate([rng.permutation(n) for _ in range(passes)])
            self._orders = {epoch: order}  # batches are asked for epoch by epoch
        return self._orders[epoch]

    def __len__(self) -> int:
        if self.steps_per_epoch is not None:
            return self.steps_per_epoch
        return math.ceil(len(self.images) / self.batch_size)

    def on_epoch_end(self):
        """Start the next epoch: new order, crops and augmentation draws."""
        self._epoch += 1

    def __getitem__(self, index):
        return self.batch(self._epoch, index)

    def batch(self, epoch, index):
        """Batch ``index`` of epoch ``epoch``: a function of the seed, epoch and index alone.

        Returns
        -------
        x : ndarray of float32, shape (B, h, w, 1)
        y : ndarray of float32, shape (B, h, w, 4)
            One-hot masks (blended with the teacher's probabilities where there is one).
        w : ndarray of float32, shape (B, h, w)
            Only with an ``on_glow_weight`` above 1: the pixels' loss weights.
        """
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range for {len(self)} batches")
        start = index * self.batch_size
        stop = start + self.batch_size
        if self.steps_per_epoch is None:
            stop = min(stop, len(self.images))
        rng = np.random.default_rng(derive_seed(self.seed, epoch, index))
        augmenter = None
        if self.augmenter is not None:
            augmenter = self.augmenter.deepcopy()  # thread-safe, reseeded per batch
            augmenter.seed_(int(rng.integers(2**31)))
        xs, ys = [], []
        for i in self._epoch_order(epoch)[start:stop]:
            x, label = self._prepared[i], self.labels[i]
            if augmenter is not None:
                z, label = augment_standardized(augmenter, x, label, rng)
                x = network_input(z)
                if rng.random() < getattr(augmenter, "ccdnb_invert", 0.0):
                    x = -x  # the thesis's colour inversion, about the pedestal (build_augmenter)
            if self.crop_size is not None:
                x, label = self._crop(x, label, rng)
            xs.append(x)
            ys.append(label)
        if len({x.shape for x in xs}) > 1:
            raise ValueError(f"augmented images differ in shape {sorted({x.shape for x in xs})}; "
                             "90-degree rotations of non-square images need a square crop_size")
        x = np.stack(xs)[..., None].astype(np.float32)
        labels = np.stack(ys)
        y = one_hot(labels).astype(np.float32)
        if self.teacher is not None:
            taught = np.asarray(self.teacher.predict_on_batch(x), dtype=np.float32)
            y = (1.0 - self.teacher_weight) * y + self.teacher_weight * taught
        if self.sample_weighted:
            from .emphasis import emphasis_weights

            return x, y, emphasis_weights(labels, self.on_glow_weight)
        return x, y

    def _crop(self, x, label, rng):
        height, width = self.crop_size
        if height > x.shape[0] or width > x.shape[1]:
            raise ValueError(f"crop_size {self.crop_size} does not fit the augmented image "
                             f"{x.shape}")
        top = int(rng.integers(x.shape[0] - height + 1))
        left = int(rng.integers(x.shape[1] - width + 1))
        window = (slice(top, top + height), slice(left, left + width))
        return x[window], label[window]
