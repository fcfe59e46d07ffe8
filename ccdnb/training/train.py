"""Train the U-Net on simulated images and record how (the model card).

:func:`train_model` follows the thesis's recipe: 21 % of the images held out
for validation (never augmented), early stopping on the validation loss
(patience 20, best weights restored), learning rate divided by 10 after 5
epochs without improvement, optionally a teacher network's probabilities blended
into the targets (knowledge distillation, for fine-tunes that must keep what the
network they start from got right), the best model checkpointed, every epoch logged to
``history.csv``. Augmented batches are made on the fly by
:class:`ccdnb.training.augment.AugmentedSequence`, so the dataset is never copied per
epoch, and reach Keras through :func:`batches_dataset`. Inside a :mod:`tf.distribute`
strategy (``MirroredStrategy`` on a multi-GPU machine) the model is built and compiled
in ``strategy.scope()`` and ``batch_size`` is the global batch.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..classes import CLUSTER, HOT_PIXEL, N_CLASSES

__all__ = ["VALIDATION_SPLIT", "EARLY_STOPPING_PATIENCE", "REDUCE_LR", "MODEL_FILE",
           "HISTORY_FILE", "TrainingResult", "batches_dataset", "segmentation_metrics",
           "split_validation", "read_history", "best_epoch_of", "train_model"]

VALIDATION_SPLIT = 0.21
EARLY_STOPPING_PATIENCE = 20
REDUCE_LR = dict(factor=0.1, patience=5, min_delta=1e-3, min_lr=1e-7)
MODEL_FILE = "model.keras"
HISTORY_FILE = "history.csv"


@dataclass
class TrainingResult:
    """What :func:`train_model` returns.

    Attributes
    ----------
    model : keras.Model
        The trained model with the best epoch's weights.
    history : dict of str to list of float
        Per-epoch values of the loss, the metrics (``val_`` prefixed for the
        validation set) and the learning rate.
    card : dict
        The model card written beside the model.
    model_path : Path
        ``out_dir/model.keras``.
    best_epoch : int
        1-based epoch whose weights the model holds.
    """

    model: object
    history: dict
    card: dict
    model_path: Path
    best_epoch: int


def batches_dataset(sequence, *, repeat=False):
    """A :class:`tf.data.Dataset` of a sequence's batches, made when the network asks.

    Keras reads a :class:`keras.utils.PyDataset` through a prefetching
    generator iterator that it makes anew every epoch; destroying the old one
    waits on its Python generator, and that stalled training for 10-40 s at
    the start of some epochs (a third of the quick profile's time over the
    network's; py-spy shows the main thread in the iterator's destructor). Here
    the dataset is a range of batch numbers mapped through
    :meth:`~ccdnb.training.augment.AugmentedSequence.batch` (``tf.numpy_function``,
    no generator, nothing prefetched): batch ``k`` is batch ``k % len(sequence)``
    of epoch ``k // len(sequence)``, made on the thread that asks for it in a few
    ms per image against the network's ~90.

    Parameters
    ----------
    sequence : AugmentedSequence
    repeat : bool
        Endless epochs from one iterator (training: give ``model.fit``
        ``steps_per_epoch=len(sequence)``), or one pass of the sequence's current
        epoch per iterator (validation).

    Returns
    -------
    tf.data.Dataset
        ``(x, y)`` float32 batches, ``x`` of one channel and ``y`` one-hot; ``(x, y, w)``
        with per-pixel sample weights ``w`` where the sequence gives them.
    """
    import tensorflow as tf

    steps = len(sequence)
    first_epoch = sequence.epoch

    def make(number):
        epoch, index = divmod(int(number), steps)
        return sequence.batch(first_epoch + epoch, index)

    weighted = sequence.sample_weighted

    def as_tensors(number):
        kinds = (tf.float32,) * (3 if weighted else 2)
        out = tf.numpy_function(make, [number], kinds, stateful=False)
        out[0].set_shape((None, None, None, 1))
        out[1].set_shape((None, None, None, N_CLASSES))
        if weighted:
            out[2].set_shape((None, None, None))
        return tuple(out)

    numbers = tf.data.Dataset.range(steps)
    if repeat:
        numbers = tf.data.Dataset.range(2**62)
    return numbers.map(as_tensors)


def segmentation_metrics():
    """Metrics for training: pixel accuracy, mean IoU and the IoU of the two thin classes.

    Accuracy alone is ~99 % for a model that calls everything background; the
    IoUs (Keras's serialisable one-hot IoU metrics on the arg-max class) show
    whether hot pixels and clusters are found.
    """
    import keras

    return [
        keras.metrics.CategoricalAccuracy(name="accuracy"),
        keras.metrics.OneHotMeanIoU(num_classes=N_CLASSES, name="mean_iou"),
        keras.metrics.OneHotIoU(num_classes=N_CLASSES, target_class_ids=[HOT_PIXEL],
                                name="iou_hot_pixel"),
        keras.metrics.OneHotIoU(num_classes=N_CLASSES, target_class_ids=[CLUSTER],
                                name="iou_cluster"),
    ]


def split_validation(n, validation_split=VALIDATION_SPLIT, *, seed=0):
    """Split ``n`` image indices into training and validation sets.

    Parameters
    ----------
    n : int
        Number of images.
    validation_split : float
        Share held out, in [0, 1); at least one image on each side when it is
        positive and ``n >= 2``.
    seed : int
        Seed of the shuffle.

    Returns
    -------
    train, validation : ndarray of int
        Sorted indices.
    """
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * validation_split))
    if validation_split > 0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    else:
        n_val = 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def read_history(path) -> dict:
    """Read a Keras ``CSVLogger`` file into ``{column: ndarray}`` (``epoch`` 0-based)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return {}
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]}


def best_epoch_of(history, monitor="val_loss") -> int:
    """1-based epoch with the lowest ``monitor`` (``loss`` when ``monitor`` is missing)."""
    values = history.get(monitor)
    if values is None or len(values) == 0:
        values = history["loss"]
    return int(np.nanargmin(np.asarray(values, dtype=float))) + 1


def _trim_to_multiple(images, labels, multiple):
    """Crop images to the largest size the U-Net takes (a multiple of ``2**depth``)."""
    height = images.shape[1] // multiple * multiple
    width = images.shape[2] // multiple * multiple
    if height == 0 or width == 0:
        raise ValueError(f"images of {images.shape[1]}x{images.shape[2]} are smaller than "
                         f"the U-Net's {multiple}-pixel unit")
    return images[:, :height, :width], labels[:, :height, :width]


def _stop_after_minutes_class():
    import keras

    class StopAfterMinutes(keras.callbacks.Callback):
        """Stop training after the first epoch that ends past a wall-clock budget.

        Placed before EarlyStopping, whose end-of-training step then restores
        the best epoch's weights as usual.
        """

        def __init__(self, minutes):
            super().__init__()
            self.seconds = 60.0 * float(minutes)
            self.stopped_epoch = None

        def on_train_begin(self, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if time.perf_counter() - self._start > self.seconds:
                self.stopped_epoch = epoch + 1
                self.model.stop_training = True

    return StopAfterMinutes


def __getattr__(name):  # the callback class needs Keras: built on first use
    if name == "StopAfterMinutes":
        return _stop_after_minutes_class()
    raise AttributeError(name)


def train_model(train_images, train_labels, *, out_dir, architecture, epochs, batch_size,
                steps_per_epoch, optimizer, loss, learning_rate=None,
                validation_split=VALIDATION_SPLIT, augment="default", crop_size=None, seed,
                strategy=None, pretrained=None, data_info=None, card_extra=None,
                max_minutes=None, class_weight_power=1.0, class_weight_scale=None,
                teacher=None, teacher_weight=0.5, on_glow_weight=1.0, deterministic=True,
                verbose=1) -> TrainingResult:
    """Train a U-Net and write ``model.keras``, ``model.card.json`` and ``history.csv``.

    Parameters
    ----------
    train_images : ndarray, shape (N, H, W)
        ADU images (normalised per image on the fly).
    train_labels : ndarray of int, shape (N, H, W)
        Truth class masks.
    out_dir : str or Path
        Where the model, its card and the history go (created).
    architecture : str
        A name of :data:`ccdnb.model.ARCHITECTURES`.
    epochs : int
        Maximum number of epochs (early stopping may end sooner).
    batch_size : int
        Images per step (global batch under a strategy).
    steps_per_epoch : int
        Batches per epoch; 0 or None for one pass over the training images.
    optimizer : str
        A name of :data:`ccdnb.training.losses.OPTIMIZERS`.
    class_weight_power : float
        The weighted losses' class weights are ``(1 / class frequency) **
        class_weight_power`` (1: the thesis's inverse frequency; 0.5 its square
        root, which lifts rare classes without drowning the background).
    class_weight_scale : sequence of 4 floats, optional
        Multiplies the class weights, which are then normalised back to sum 4
        (the thesis's second attempt at finding clusters raised their weight).
    max_minutes : float, optional
        Wall-clock budget: training stops after the first epoch that ends past
        it (the best epoch's weights are kept, as with early stopping).
    loss : str
        A name of :data:`ccdnb.training.losses.LOSSES`; class weights are the inverse
        class frequencies of the training labels.
    learning_rate : float, optional
        Default: the optimizer's (see :func:`ccdnb.training.losses.make_optimizer`).
    validation_split : float
        Share of the images held out for validation (0.21 as the thesis).
    augment : str or None
        A preset of :func:`ccdnb.training.augment.build_augmenter` for the training
        images ("none" or None: no augmentation).
    crop_size : int, optional
        Train on random crops of this size (a multiple of ``2**depth``);
        validation always uses the whole images.
    seed : int
        Seeds the weights, the split, the batch order and the augmentation.
    deterministic : bool
        Switch on TensorFlow's op determinism (for the rest of the process):
        with it the same seed on the same machine gives the same model, bit for
        bit. Kernels without a deterministic version then raise (on a GPU, if
        one is needed, pass False: it does not switch determinism on).
    strategy : tf.distribute.Strategy, optional
        Build and compile inside its scope (e.g. ``MirroredStrategy``).
    pretrained : str or Path, optional
        A saved model of the same architecture to start from
        (:func:`ccdnb.model.load_pretrained_weights`).
    teacher : str or Path, optional
        A trained model (a shipped name or a ``.keras`` file with its ONNX export beside
        it) whose probabilities are blended into the targets, training and validation
        alike (knowledge distillation; :class:`~ccdnb.training.augment.AugmentedSequence`):
        a fine-tune that keeps what the teacher got right. Run by ONNX Runtime.
    teacher_weight : float
        The teacher's share of the targets, in (0, 0.5].
    on_glow_weight : float
        Loss weight of the pixels of clusters that sit on glow, training and validation
        alike (:mod:`ccdnb.training.emphasis`); 1 counts them as any other pixel of their
        class.
    card_extra : dict, optional
        More entries for the model card (``ccdnb train`` records its command line).
    data_info : dict, optional
        Description of the training data (preset, seeds...) for the card.
    verbose : int
        Keras verbosity: 0 silent, 1 progress bar, 2 one line per epoch.

    Returns
    -------
    TrainingResult
    """
    import keras
    import tensorflow as tf

    from .. import __version__
    from ..model import architecture_config, build_unet, save_model
    from .augment import AugmentedSequence, build_augmenter
    from .losses import inverse_frequency_weights, make_loss, make_optimizer

    images, labels = np.asarray(train_images), np.asarray(train_labels)
    if images.ndim != 3 or images.shape != labels.shape:
        raise ValueError(f"train_images {images.shape} and train_labels {labels.shape} "
                         "must both be (N, H, W)")
    config = architecture_config(architecture)
    unit = 2 ** int(config["depth"])
    if crop_size is not None and int(crop_size) % unit:
        raise ValueError(f"crop_size {crop_size} must be a multiple of {unit} "
                         f"(2**depth of the {architecture!r} U-Net)")
    images, labels = _trim_to_multiple(images, labels, unit)
    train_idx, val_idx = split_validation(len(images), validation_split, seed=seed)
    class_weights = inverse_frequency_weights(labels[train_idx], class_weight_power)
    if class_weight_scale is not None:
        class_weights = class_weights * np.asarray(class_weight_scale, dtype=np.float64)
        class_weights *= len(class_weights) / class_weights.sum()

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    strategy = strategy or tf.distribute.get_strategy()
    replicas = int(strategy.num_replicas_in_sync)
    if int(batch_size) < replicas:
        raise ValueError(f"batch_size {batch_size} is smaller than the {replicas} replicas")
    # Same seed, same machine: same model, bit for bit (seeded Python, NumPy and TF
    # generators, and TF kernels that do not depend on thread scheduling).
    keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    augmenter = None if augment in (None, "none") else build_augmenter(augment, seed=seed)
    # Replicas cannot take a short last batch (one would get no image): with more than
    # one, every epoch is made of full batches (the last one wraps around the images).
    train_steps = steps_per_epoch or (math.ceil(len(train_idx) / batch_size) if replicas > 1
                                      else None)
    taught = {}
    if teacher is not None:  # an engine apart from TensorFlow: it runs inside tf.data
        from ..predict.runtime import open_model

        # the teacher's own network, without its card's class factors: the targets stay
        # probabilities of the same loss (candidates 6 and 7 of issue 33 were made so)
        opened = open_model(teacher, "onnx", class_factors=False)
        taught = {"teacher": opened.predictor, "teacher_weight": teacher_weight}
    train_data = AugmentedSequence(images[train_idx], labels[train_idx], batch_size=batch_size,
                                   augmenter=augmenter, crop_size=crop_size,
                                   steps_per_epoch=train_steps, shuffle=True, seed=seed,
                                   on_glow_weight=on_glow_weight, **taught)
    val_data = None
    if len(val_idx):
        val_steps = math.ceil(len(val_idx) / batch_size) if replicas > 1 else None
        val_data = AugmentedSequence(images[val_idx], labels[val_idx], batch_size=batch_size,
                                     steps_per_epoch=val_steps, shuffle=False, seed=seed,
                                     on_glow_weight=on_glow_weight, **taught)
    monitor = "val_loss" if val_data is not None else "loss"

    with strategy.scope():
        model = build_unet(architecture)
        if pretrained:
            from ..model import load_pretrained_weights

            load_pretrained_weights(model, pretrained)
        optimizer_object = make_optimizer(optimizer, learning_rate)
        model.compile(optimizer=optimizer_object,
                      loss=make_loss(loss, class_weights), metrics=segmentation_metrics())

    model_path = out_dir / MODEL_FILE
    callbacks = [
        keras.callbacks.EarlyStopping(monitor=monitor, patience=EARLY_STOPPING_PATIENCE,
                                      restore_best_weights=True, verbose=min(verbose, 1)),
        keras.callbacks.ReduceLROnPlateau(monitor=monitor, verbose=min(verbose, 1), **REDUCE_LR),
        keras.callbacks.ModelCheckpoint(model_path, monitor=monitor, save_best_only=True),
        keras.callbacks.CSVLogger(out_dir / HISTORY_FILE),
    ]
    if max_minutes:
        callbacks.insert(0, _stop_after_minutes_class()(max_minutes))
    initial_lr = float(f"{float(keras.ops.convert_to_numpy(optimizer_object.learning_rate)):.6g}")
    start = time.perf_counter()
    fit = model.fit(batches_dataset(train_data, repeat=True), steps_per_epoch=len(train_data),
                    validation_data=None if val_data is None else batches_dataset(val_data),
                    epochs=int(epochs), shuffle=False, callbacks=callbacks, verbose=verbose)
    training_time = time.perf_counter() - start

    history = {key: [float(v) for v in values] for key, values in fit.history.items()}
    best = best_epoch_of(history, monitor)
    card = {
        "ccdnb_version": __version__,
        "architecture": architecture,
        "architecture_config": config,
        "parameters": int(model.count_params()),
        "loss": loss,
        "class_weights": [float(w) for w in class_weights],
        "optimizer": optimizer,
        "learning_rate": initial_lr,
        "epochs_requested": int(epochs),
        "epochs_run": len(history["loss"]),
        "best_epoch": best,
        "best_metrics": {key: values[best - 1] for key, values in history.items()},
        "batch_size": int(batch_size),
        "steps_per_epoch": len(train_data),
        "augment": augment or "none",
        "crop_size": crop_size,
        "validation_split": validation_split,
        "data": {**(data_info or {}), "n_train": int(len(train_idx)),
                 "n_validation": int(len(val_idx)), "image_shape": list(images.shape[1:])},
        "seeds": {"train": int(seed), "split": int(seed), "augment": int(seed)},
        "pretrained": str(pretrained) if pretrained else None,
        "replicas": replicas,
        "training_time_s": round(training_time, 1),
        "max_minutes": max_minutes,
        "class_weight_power": class_weight_power,
        "on_glow_weight": float(on_glow_weight),
        "class_weight_scale": (None if class_weight_scale is None
                               else [float(v) for v in class_weight_scale]),
        "teacher": ({"model": str(teacher), "model_id": opened.model_id,
                     "weight": float(teacher_weight)} if teacher is not None else None),
        **(card_extra or {}),
    }
    save_model(model, model_path, card)
    return TrainingResult(model=model, history=history, card=card, model_path=model_path,
                          best_epoch=best)
