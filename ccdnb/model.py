"""The U-Net that classifies every pixel, and how models are saved with their card.

:func:`build_unet` builds a U-Net (Ronneberger et al. 2015) from a few
hyper-parameters; :data:`ARCHITECTURES` names two settings of them:

``thesis``
    the thesis's network exactly: four 2x2 max-poolings, 32 to 512 filters,
    two 3x3 convolutions per level (ELU, he_normal, L2 0.01) with dropout 0.18
    between them, 2x2 transposed-convolution upsampling concatenated with the
    skip connection, a 1x1 softmax; 7.76 M parameters.
``small``
    our default: the same depth and skip structure with 8 base filters and
    batch normalisation instead of dropout and L2. The first level keeps full
    resolution with two 3x3 convolutions, so one-pixel hot columns and
    one-pixel faint clusters are seen at their own scale, while the four
    poolings give a receptive field wide enough for glow bands and long muon
    tracks. About 16x fewer multiply-adds than ``thesis`` (see
    ``benchmarks/training_throughput.py``).

Models are Keras 3 ``.keras`` files with a JSON card beside them
(:func:`card_path`); :func:`save_model` / :func:`load_model` handle both.

Shipped models live in ``ccdnb/models/<name>.keras`` and are addressed by name:
:func:`available_models` lists them, :func:`model_card` reads a card without
loading Keras, and :func:`resolve_model_path` turns ``"default"`` or a path into
a model file. Keras itself is imported on first use only, so listing models and
reading cards stays fast.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path

from .classes import N_CLASSES
from .errors import CcdnbInputError, one_line
from .io.atomic import atomic_path, write_json_atomic

__all__ = ["MODELS_DIR", "DEFAULT_MODEL_NAME", "ARCHITECTURES", "UPSAMPLING",
           "architecture_config", "build_unet", "conv_flops", "card_path", "save_model",
           "load_model", "DEFAULT_MODEL", "MODEL_ID_KEYS", "load_model_file",
           "load_default_model", "model_identity", "load_pretrained_weights", "available_models",
           "resolve_model_path", "model_card"]


class _LazyModule:
    """A module imported on first attribute access (Keras takes seconds to import)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr):
        return getattr(importlib.import_module(self._name), attr)


keras = _LazyModule("keras")
layers = _LazyModule("keras.layers")

#: Folder of the models shipped inside the package (``<name>.keras`` + ``<name>.card.json``).
MODELS_DIR = Path(__file__).parent / "models"
#: Name of the model used when none is given.
DEFAULT_MODEL_NAME = "default"

#: Named architectures: every keyword of :func:`build_unet` (overridable per call).
ARCHITECTURES = {
    "thesis": dict(depth=4, base_filters=32, activation="elu", kernel_initializer="he_normal",
                   dropout=0.18, l2=0.01, batch_norm=False, upsampling="transpose"),
    "small": dict(depth=4, base_filters=8, activation="relu", kernel_initializer="he_normal",
                  dropout=0.0, l2=0.0, batch_norm=True, upsampling="transpose"),
}

UPSAMPLING = ("transpose", "bilinear")


def architecture_config(architecture="small", **overrides) -> dict:
    """Return the full hyper-parameter dict of a named architecture with ``overrides``.

    Raises
    ------
    CcdnbInputError
        (a ValueError) For an unknown architecture, option or upsampling mode, or a depth or
        filter count below 1.
    """
    if architecture not in ARCHITECTURES:
        raise CcdnbInputError(f"unknown architecture {architecture!r}; "
                         f"choose from {', '.join(ARCHITECTURES)}")
    unknown = set(overrides) - set(ARCHITECTURES[architecture])
    if unknown:
        raise CcdnbInputError(f"unknown U-Net option(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(ARCHITECTURES[architecture])}")
    config = {**ARCHITECTURES[architecture], **overrides}
    if config["upsampling"] not in UPSAMPLING:
        raise CcdnbInputError(f"upsampling {config['upsampling']!r}: "
                         f"choose from {', '.join(UPSAMPLING)}")
    if int(config["depth"]) < 1 or int(config["base_filters"]) < 1:
        raise CcdnbInputError("depth and base_filters must be at least 1")
    return config


def _conv_block(x, filters, config, name):
    """Two 3x3 convolutions (the U-Net's unit), with dropout or batch norm between."""
    regularizer = keras.regularizers.L2(config["l2"]) if config["l2"] else None
    for k in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same",
                          kernel_initializer=config["kernel_initializer"],
                          kernel_regularizer=regularizer, use_bias=not config["batch_norm"],
                          name=f"{name}_conv{k}")(x)
        if config["batch_norm"]:
            x = layers.BatchNormalization(name=f"{name}_bn{k}")(x)
        x = layers.Activation(config["activation"], name=f"{name}_act{k}")(x)
        if k == 1 and config["dropout"]:
            x = layers.Dropout(config["dropout"], name=f"{name}_dropout")(x)
    return x


def _upsample(x, filters, config, name):
    if config["upsampling"] == "transpose":
        return layers.Conv2DTranspose(filters, 2, strides=2, padding="same",
                                      kernel_initializer=config["kernel_initializer"],
                                      name=f"{name}_up")(x)
    x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up")(x)
    # a 1x1 convolution brings the channels down to the skip's, as the transpose does
    return layers.Conv2D(filters, 1, kernel_initializer=config["kernel_initializer"],
                         name=f"{name}_up_proj")(x)


def build_unet(architecture="small", **overrides) -> keras.Model:
    """Build a U-Net that outputs a 4-class softmax per pixel.

    Parameters
    ----------
    architecture : {"small", "thesis"}
        Named starting point (see :data:`ARCHITECTURES`).
    **overrides
        Any of ``depth`` (number of 2x2 poolings), ``base_filters`` (filters of
        the first level, doubled per level), ``activation``,
        ``kernel_initializer``, ``dropout`` (rate between the two convolutions
        of a level, 0 for none), ``l2`` (kernel L2 factor, 0 for none),
        ``batch_norm`` (bool), ``upsampling`` ("transpose" or "bilinear").

    Returns
    -------
    keras.Model
        Input (B, H, W, 1), the normalised image, with H and W free
        (multiples of ``2**depth``); output (B, H, W, 4) class probabilities.
        The final softmax is float32 even under a mixed-precision policy.
    """
    config = architecture_config(architecture, **overrides)
    depth, base = int(config["depth"]), int(config["base_filters"])
    inputs = keras.Input(shape=(None, None, 1), name="image")
    x, skips = inputs, []
    for level in range(depth):
        x = _conv_block(x, base * 2**level, config, f"down{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"down{level}_pool")(x)
    x = _conv_block(x, base * 2**depth, config, "bottom")
    for level in reversed(range(depth)):
        x = _upsample(x, base * 2**level, config, f"up{level}")
        x = layers.Concatenate(name=f"up{level}_concat")([x, skips[level]])
        x = _conv_block(x, base * 2**level, config, f"up{level}")
    logits = layers.Conv2D(N_CLASSES, 1, name="logits")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="probabilities")(logits)
    return keras.Model(inputs, outputs, name=f"unet_{architecture}")


def conv_flops(model, tile=256) -> int:
    """Floating-point operations (2 x multiply-adds) of a :func:`build_unet` model per tile.

    Counts the convolutions and transposed convolutions, which dominate the
    cost; a layer's resolution is read from its level in the layer name.

    Parameters
    ----------
    model : keras.Model
        From :func:`build_unet`.
    tile : int
        Tile side in pixels (a multiple of ``2**depth``).

    Returns
    -------
    int
    """
    depth = sum(isinstance(layer, layers.MaxPooling2D) for layer in model.layers)
    flops = 0
    for layer in model.layers:
        if not isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose)):
            continue
        level = layer.name.split("_")[0]
        if level == "bottom":
            scale = 2**depth
        elif level == "logits":
            scale = 1
        else:
            scale = 2 ** int(level.removeprefix("down").removeprefix("up"))
        pixels = (tile // scale) ** 2
        kh, kw, a, b = layer.kernel.shape
        # a stride-2 2x2 transpose does one kernel tap per output pixel
        taps = 1 if isinstance(layer, layers.Conv2DTranspose) else kh * kw
        flops += 2 * pixels * taps * a * b
    return int(flops)


def card_path(path) -> Path:
    """Return the model card path of a model file: ``model.keras`` -> ``model.card.json``."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".keras") + ".card.json")


def save_model(model, path, card) -> Path:
    """Write ``model`` to ``path`` (``.keras``) and its card beside it.

    Both files are written under a temporary name and renamed
    (:mod:`ccdnb.io.atomic`), so a crash never leaves a half-written model.
    Returns ``path``.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise CcdnbInputError(f"{path}: a model file must end in .keras")
    with atomic_path(path, suffix=".keras", make_parents=True) as tmp_model:
        model.save(tmp_model)
    write_json_atomic(card_path(path), card, sort_keys=True)
    return path


def load_model(path):
    """Load a model (``compile=False``) and its card.

    Returns
    -------
    model : keras.Model
    card : dict
        Empty when the model has no card.
    """
    from . import model_losses  # noqa: F401  registers ccdnb's serialisable losses

    path = Path(path)
    model = keras.saving.load_model(path, compile=False)
    card = card_path(path)
    return model, (json.loads(card.read_text()) if card.is_file() else {})


#: The pretrained model shipped inside the package (``resolve_model_path("default")``).
DEFAULT_MODEL = MODELS_DIR / f"{DEFAULT_MODEL_NAME}.keras"
#: Card keys, in order of preference, that identify a model.
MODEL_ID_KEYS = ("id", "model_id", "sha256", "hash")


def load_model_file(path):
    """Load a Keras model and its card for prediction.

    Parameters
    ----------
    path : str or Path
        A ``.keras`` file; its card (``<name>.card.json``) is read when present.

    Returns
    -------
    model : keras.Model
    card : dict
        The model card (empty when the model has none).

    Raises
    ------
    CcdnbInputError
        When the file is missing or is not a loadable Keras model.
    """
    path = Path(path)
    if not path.is_file():
        raise CcdnbInputError(f"{path}: model file not found")
    try:
        model, card = load_model(path)
    except CcdnbInputError:
        raise
    except Exception as err:  # zip, HDF5, JSON and Keras errors alike
        raise CcdnbInputError(f"{path}: cannot load the model ({one_line(err)})") from None
    return model, dict(card or {})


def load_default_model():
    """Load the pretrained model shipped with ccdnb (``ccdnb/models/default.keras``).

    Returns
    -------
    model : keras.Model
    card : dict

    Raises
    ------
    CcdnbInputError
        When this installation ships no default model.
    """
    return load_model_file(resolve_model_path(DEFAULT_MODEL_NAME))


def model_identity(path, card: dict) -> tuple[str, str]:
    """Return ``(name, id)`` recorded in the masks header for a model file.

    The id is the card's ``id`` (or ``model_id``, ``sha256``, ``hash``); without
    one, ``sha256:`` and the first 16 hex digits of the file's SHA-256.
    """
    path = Path(path)
    for key in MODEL_ID_KEYS:
        if card.get(key):
            return path.name, str(card[key])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return path.name, f"sha256:{digest}"


def load_pretrained_weights(model, path):
    """Copy the weights of a saved model of the same architecture into ``model``.

    The thesis pretrained on cluster-only images, then trained on the full
    classes from those weights; this is that step.

    Parameters
    ----------
    model : keras.Model
        Built with the same architecture as the saved one.
    path : str or Path
        A ``.keras`` model or a ``.weights.h5`` weights file.

    Returns
    -------
    keras.Model
        ``model``, its weights replaced.

    Raises
    ------
    CcdnbInputError
        (a ValueError) When the saved weights do not fit ``model`` (another architecture).
    """
    path = Path(path)
    if path.name.endswith(".weights.h5"):
        model.load_weights(path)
        return model
    source, _ = load_model(path)
    theirs, ours = source.get_weights(), model.get_weights()
    if len(theirs) != len(ours) or any(a.shape != b.shape for a, b in zip(theirs, ours)):
        raise CcdnbInputError(f"{path}: its weights do not fit this model "
                         f"({source.count_params():,} vs {model.count_params():,} parameters); "
                         "pretrain with the same architecture")
    model.set_weights(theirs)
    return model


# --------------------------------------------------------------------------- shipped models

def available_models() -> list[str]:
    """Names of the models shipped with ccdnb (``ccdnb/models/<name>.keras``), sorted.

    Any name in the list can be passed as ``model=`` to :func:`ccdnb.segment`,
    :class:`ccdnb.Segmenter` or ``ccdnb predict --model``.
    """
    if not MODELS_DIR.is_dir():
        return []
    return sorted(p.name.removesuffix(".keras") for p in MODELS_DIR.glob("*.keras"))


def _looks_like_name(model: str) -> bool:
    return not any(sep in model for sep in ("/", "\\")) and not model.endswith(".keras")


def resolve_model_path(model=DEFAULT_MODEL_NAME) -> Path:
    """The ``.keras`` file of a shipped model name or a path.

    Parameters
    ----------
    model : str or Path
        A name from :func:`available_models` (``"default"``) or the path of a
        ``.keras`` file.

    Returns
    -------
    Path
        An existing file.

    Raises
    ------
    CcdnbInputError
        An unknown name, a missing file, or no default model in this installation.
    """
    if model is None:
        model = DEFAULT_MODEL_NAME
    text = str(model)
    if isinstance(model, str) and _looks_like_name(text):
        path = MODELS_DIR / f"{text}.keras"
        if path.is_file():
            return path
        if text == DEFAULT_MODEL_NAME:
            raise CcdnbInputError(
                f"{path}: no default model is shipped with this installation; pass a "
                f".keras file (model=PATH, or --model PATH on the command line) from "
                f"`ccdnb train` or notebook 04")
        if not Path(text).is_file():
            shipped = ", ".join(available_models()) or "none"
            raise CcdnbInputError(f"model {text!r}: neither a shipped model (available: "
                                  f"{shipped}) nor an existing .keras file")
    path = Path(model)
    if path.is_dir():
        raise CcdnbInputError(f"{path}: is a directory, not a .keras model file")
    if not path.is_file():
        raise CcdnbInputError(f"{path}: model file not found")
    return path


def model_card(model=DEFAULT_MODEL_NAME) -> dict:
    """The card of a shipped model (by name) or of a model file, without loading the model.

    Returns
    -------
    dict
        Training data, recipe, epochs, held-out metrics and ccdnb version;
        empty when the model has no card.

    Raises
    ------
    CcdnbInputError
        Unknown model, or a card that is not valid JSON.
    """
    card = card_path(resolve_model_path(model))
    if not card.is_file():
        return {}
    try:
        return json.loads(card.read_text())
    except ValueError as err:
        raise CcdnbInputError(f"{card}: model card is not valid JSON ({err})") from None
