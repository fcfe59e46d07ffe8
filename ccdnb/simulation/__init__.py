"""Simulated CCD images with exact truth: the simulation stage.

An image is built in three steps: the preset's rules draw the image's
parameters (:mod:`.presets`); glow, hot pixels and clusters are placed and
rendered on small stamps as noiseless signal (:mod:`.objects`, with the charge
transport of :mod:`.physics`), from which the truth follows (:mod:`.truth`);
finally the detector response is applied and images are collected into
datasets (:mod:`.dataset`), written as ``.npz`` or as FITS frames (:mod:`.fits`).

The names below are the simulation's public interface; docs/internals.md
describes the arrays and the ``meta`` keys.
"""

from .._lazy import lazy_names

#: Public name -> the submodule that defines it. Submodules are imported on first
#: use (module ``__getattr__``), so that ``ccdnb predict`` and ``ccdnb --help``,
#: which only name the presets, never pay for SciPy's special functions.
_SOURCES = {
    **dict.fromkeys(("THESIS_DENSITIES", "Dataset", "SimulatedImage", "class_density_table",
                     "concatenate_datasets", "load_dataset", "parse_shape", "save_dataset",
                     "simulate_dataset", "simulate_frame", "simulate_image",
                     "simulate_kind_examples", "electron_rate_map", "electron_rate_summary",
                     "tile_dataset"),
                    "dataset"),
    **dict.fromkeys(("amplifier_extname", "write_simulated_fits"), "fits"),
    "EV_PER_PAIR": "physics",
    **dict.fromkeys(("BASE", "DESCRIPTIONS", "PRESETS", "Choice", "Derived", "LogUniform",
                     "Uniform", "draw_parameters"), "presets"),
    **dict.fromkeys(("OBJECT_DTYPE", "label_from_components"), "truth"),
}


__getattr__, __dir__ = lazy_names(__name__, _SOURCES)


__all__ = [  # noqa: F822 (defined lazily, see _SOURCES)
    "BASE", "DESCRIPTIONS", "EV_PER_PAIR", "OBJECT_DTYPE", "PRESETS", "THESIS_DENSITIES",
    "Choice", "Dataset", "Derived", "LogUniform", "SimulatedImage", "Uniform",
    "amplifier_extname", "class_density_table", "concatenate_datasets", "electron_rate_map",
    "electron_rate_summary",
    "draw_parameters", "label_from_components", "load_dataset", "parse_shape", "save_dataset",
    "simulate_dataset", "simulate_frame", "simulate_image", "simulate_kind_examples",
    "tile_dataset", "write_simulated_fits",
]
