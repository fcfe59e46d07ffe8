"""Prediction: the stage list over one image, and FITS files through it.

- :mod:`ccdnb.predict.pipeline`: the ordered stages (background, electron field,
  network input, network, the rules after it, defect map) and :func:`predict_image`;
- :mod:`ccdnb.predict.files`: every image HDU of a FITS file through the pipeline,
  the masks file written atomically (:func:`predict_fits`, :func:`predict_file`);
- :mod:`ccdnb.predict.tiling`: overlapping tiles whose margins are dropped on stitching
  (no seam at tile borders), and the default margin;
- :mod:`ccdnb.predict.runtime`: the engines that run the network (Keras/TensorFlow, ONNX
  Runtime, OpenVINO), loaded once and chosen by name;
- :mod:`ccdnb.predict.class_factors`: the model card's factors on the network's class
  probabilities, applied to every batch an engine returns;
- :mod:`ccdnb.predict.onnx_export`: a trained U-Net frozen into the ONNX file those
  engines run without TensorFlow (``ccdnb export-onnx``);
- :mod:`ccdnb.predict.scaleout`: many files, in this process or over a dask cluster
  (:func:`segment_files`);
- :mod:`ccdnb.predict.rules`: the rules after the network (noise groups, signal floor,
  serial-register hits).

Submodules load on first use, so that importing one (the tiling, say) never pays for
the others.
"""

from .._lazy import lazy_names

#: Public name -> the submodule that defines it.
_SOURCES = {
    **dict.fromkeys(("predict_fits", "predict_file", "segment_to_file", "segment_contents",
                     "read_input", "SegmentedFile", "catalog_path", "ensure_output_dir",
                     "check_tiling", "seam_shares"), "files"),
    **dict.fromkeys(("predict_image", "most_probable_class", "tile_for", "STAGES",
                     "STAGE_NAMES", "RULES", "Stage", "FrameState", "run_stages",
                     "check_stage_names", "stage_table"), "pipeline"),
}


#: The submodules, reachable as attributes (``ccdnb.predict.pipeline.STAGES``) before their
#: first import, as when this package imported them eagerly.
_SUBMODULES = ("pipeline", "files", "tiling", "runtime", "class_factors", "onnx_export",
               "scaleout", "rules")


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, _SUBMODULES)


__all__ = ["predict_image", "predict_fits",  # noqa: F822 (lazy, see _SOURCES)
           "predict_file", "segment_to_file", "segment_contents", "read_input",
           "SegmentedFile", "catalog_path", "ensure_output_dir", "check_tiling",
           "seam_shares", "most_probable_class", "tile_for", "STAGES", "STAGE_NAMES", "RULES",
           "Stage", "FrameState", "run_stages", "check_stage_names", "stage_table"]
