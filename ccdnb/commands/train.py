"""``ccdnb train``: train the U-Net on a simulated dataset (``.npz``) in one recorded command."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import CcdnbInputError
from . import parse_number

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "command_line", "run"]

HELP = "train the U-Net on a simulated dataset (.npz from `ccdnb simulate`)"
DESCRIPTION = """\
Train a U-Net on the images and truth labels of a dataset written by
`ccdnb simulate` and write DIR/model.keras, DIR/model.card.json (data, seeds,
architecture, loss, optimizer, epochs, best validation metrics, class weights,
training time) and DIR/history.csv.

21 % of the images are held out for validation (not augmented); training
stops early after 20 epochs without a better validation loss and keeps the
best epoch's weights; the learning rate drops tenfold after 5 flat epochs.
The loss's class weights are the inverse class frequencies of the training
labels. With --multi-gpu, training is mirrored over all visible GPUs
(--batch-size is then the global batch).

Example (the `quick` profile's sizes):
  ccdnb simulate --preset thesis --n 400 --size 256 --seed 1 --out train.npz
  ccdnb train --data train.npz --out-dir model --epochs 25 --steps-per-epoch 40
"""


def add_arguments(parser):
    """Add ``train``'s options to ``parser``.

    Names are checked in :func:`run`, which imports the Keras modules defining them.
    """
    parser.add_argument("--data", required=True, nargs="+", metavar="NPZ",
                        help="training dataset(s) (.npz); several are combined")
    parser.add_argument("--out-dir", required=True, help="output directory for the model")
    parser.add_argument("--architecture", default="small",
                        help="small or thesis (default: small)")
    parser.add_argument("--epochs", default="25", help="maximum number of epochs (default: 25)")
    parser.add_argument("--batch-size", default="8", help="images per step (default: 8)")
    parser.add_argument("--steps-per-epoch", default="40",
                        help="batches per epoch; 0 for one pass over the images (default: 40)")
    parser.add_argument("--optimizer", default="adam",
                        help="adadelta, adam, adagrad or sgd (default: adam)")
    parser.add_argument("--learning-rate", default=None,
                        help="learning rate (default: the optimizer's; adadelta 1.0)")
    parser.add_argument("--loss", default="weighted_cce",
                        help="cce, weighted_cce, focal or dice_cce (default: weighted_cce)")
    parser.add_argument("--validation-split", default="0.21",
                        help="share of images held out (default: 0.21)")
    parser.add_argument("--augment", default="default",
                        help="augmentation preset: default, thesis or none (default: default)")
    parser.add_argument("--crop-size", default=None,
                        help="train on random crops of this size (multiple of 2**depth)")
    parser.add_argument("--seed", default="5", help="random seed (default: 5)")
    parser.add_argument("--pretrained", default=None, metavar="MODEL",
                        help="start from the weights of a .keras model of the same architecture")
    parser.add_argument("--multi-gpu", action="store_true",
                        help="mirror training over all visible GPUs (tf.distribute)")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="compute in bfloat16 (mixed_bfloat16 policy; softmax stays float32)")
    parser.add_argument("--class-weight-power", default="1",
                        help="class weights of the weighted losses: (1/frequency)**POWER "
                             "(1: the thesis's inverse frequency; 0.5: square root; default 1)")
    parser.add_argument("--max-minutes", default=None,
                        help="wall-clock budget: stop after the first epoch past it, keeping "
                             "the best epoch (default: none)")
    parser.add_argument("--teacher", default=None, metavar="MODEL",
                        help="a trained model (shipped name or .keras with its ONNX export) "
                             "whose probabilities are blended into the targets: knowledge "
                             "distillation, a fine-tune that keeps what it got right")
    parser.add_argument("--teacher-weight", default="0.5",
                        help="the teacher's share of the targets, in (0, 0.5] (default: 0.5)")
    parser.add_argument("--on-glow-weight", default="1",
                        help="loss weight of the pixels of clusters that sit on glow (at "
                             "least 1; default 1: as any cluster pixel)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def command_line(args) -> str:
    """The ``ccdnb train`` command that repeats this run (recorded in the model card)."""
    import shlex

    words = ["ccdnb", "train", "--data", *args.data]
    for option in ("out_dir", "architecture", "epochs", "batch_size", "steps_per_epoch",
                   "optimizer", "learning_rate", "loss", "validation_split", "augment",
                   "crop_size", "seed", "pretrained", "max_minutes", "class_weight_power",
                   "teacher"):
        value = getattr(args, option)
        if value is not None:
            words += ["--" + option.replace("_", "-"), str(value)]
    if getattr(args, "teacher", None) is not None:
        words += ["--teacher-weight", str(args.teacher_weight)]
    if str(getattr(args, "on_glow_weight", "1")) not in ("1", "1.0"):
        words += ["--on-glow-weight", str(args.on_glow_weight)]
    words += [flag for flag in ("--multi-gpu", "--mixed-precision")
              if getattr(args, flag[2:].replace("-", "_"))]
    return shlex.join(words)


def _choice(value, option, choices):
    if value not in choices:
        raise CcdnbInputError(f"{option} {value!r}: unknown; choose from {', '.join(choices)}")
    return value


def run(args) -> int:
    """Train and write the model, its card and the history; return 0."""
    paths = [Path(p) for p in args.data]
    for path in paths:
        if not path.is_file():
            raise CcdnbInputError(f"--data {path}: file not found")

    from ..model import ARCHITECTURES
    from ..training.augment import PRESETS as AUGMENT_PRESETS  # (imports Keras)
    from ..training.losses import LOSSES, OPTIMIZERS
    architecture = _choice(args.architecture, "--architecture", list(ARCHITECTURES))
    optimizer = _choice(args.optimizer, "--optimizer", list(OPTIMIZERS))
    loss = _choice(args.loss, "--loss", list(LOSSES))
    augment = _choice(args.augment, "--augment", list(AUGMENT_PRESETS))
    epochs = parse_number(args.epochs, "--epochs", int, 1)
    batch_size = parse_number(args.batch_size, "--batch-size", int, 1)
    steps = parse_number(args.steps_per_epoch, "--steps-per-epoch", int, 0)
    seed = parse_number(args.seed, "--seed", int, 0)
    split = parse_number(args.validation_split, "--validation-split", float, 0.0)
    if split >= 1.0:
        raise CcdnbInputError(f"--validation-split {args.validation_split!r}: must be below 1")
    learning_rate = None
    if args.learning_rate is not None:
        learning_rate = parse_number(args.learning_rate, "--learning-rate", float, 0.0)
        if learning_rate == 0.0:
            raise CcdnbInputError(f"--learning-rate {args.learning_rate!r}: must be positive")
    crop_size = (None if args.crop_size is None
                 else parse_number(args.crop_size, "--crop-size", int, 1))
    class_weight_power = parse_number(args.class_weight_power, "--class-weight-power", float, 0.0)
    max_minutes = None
    if args.max_minutes is not None:
        max_minutes = parse_number(args.max_minutes, "--max-minutes", float, 0.0)
    if args.pretrained and not Path(args.pretrained).is_file():
        raise CcdnbInputError(f"--pretrained {args.pretrained}: file not found")
    teacher_weight = parse_number(args.teacher_weight, "--teacher-weight", float, 0.0)
    if not 0.0 < teacher_weight <= 0.5:
        raise CcdnbInputError(f"--teacher-weight {args.teacher_weight!r}: must be in (0, 0.5]")
    on_glow_weight = parse_number(args.on_glow_weight, "--on-glow-weight", float, 1.0)
    if args.teacher is not None:  # one clear error before the data is read
        from ..predict.runtime import open_model

        open_model(args.teacher, "onnx")

    from ..simulation import concatenate_datasets, load_dataset

    datasets = []
    for path in paths:
        try:
            datasets.append(load_dataset(path))
        except CcdnbInputError:
            raise
        except Exception as err:  # zip, pickle and key errors alike
            raise CcdnbInputError(f"--data {path}: not a ccdnb dataset ({err})") from None
    dataset = concatenate_datasets(datasets)
    data = ", ".join(str(p) for p in paths)

    from ..quiet_tensorflow import import_tensorflow_quietly

    tf = import_tensorflow_quietly()  # its start-up notes kept off the terminal
    import keras

    from ..training.train import train_model

    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    strategy = tf.distribute.MirroredStrategy() if args.multi_gpu else None
    presets = sorted({m.get("preset", "?") for m in dataset.meta})
    data_info = {"path": [str(p) for p in paths], "presets": presets, "n_images": len(dataset),
                 "mixed_precision": bool(args.mixed_precision)}
    try:
        result = train_model(dataset.images, dataset.labels, out_dir=args.out_dir,
                             architecture=architecture, epochs=epochs, batch_size=batch_size,
                             steps_per_epoch=steps, optimizer=optimizer, loss=loss,
                             learning_rate=learning_rate, validation_split=split,
                             augment=augment, crop_size=crop_size, seed=seed,
                             strategy=strategy, pretrained=args.pretrained,
                             data_info=data_info, max_minutes=max_minutes,
                             class_weight_power=class_weight_power,
                             teacher=args.teacher, teacher_weight=teacher_weight,
                             on_glow_weight=on_glow_weight, verbose=0 if args.quiet else 1,
                             card_extra={"command": command_line(args)})
    except ValueError as err:
        about_pretrained = args.pretrained and str(args.pretrained) in str(err)
        raise CcdnbInputError(str(err) if about_pretrained else f"{data}: {err}") from None
    card = result.card
    print(f"ccdnb train: {card['epochs_run']} epoch(s), best epoch {result.best_epoch} "
          f"(val_loss {card['best_metrics'].get('val_loss', float('nan')):.4f}), "
          f"{card['training_time_s']:.0f} s -> {result.model_path}")
    try:  # the frozen export that ccdnb predict runs on OpenVINO (or ONNX Runtime)
        from ..predict.onnx_export import export_onnx

        print(f"ccdnb train: ONNX export -> {export_onnx(result.model_path)}")
    except ImportError:
        print("ccdnb train: no ONNX export (the onnx package is not installed); "
              "ccdnb predict will use Keras", file=sys.stderr)
    return 0
