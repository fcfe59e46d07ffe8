"""Prediction: the stage list over one image, and FITS files through it.

- :mod:`ccdnb.predict.pipeline`: the ordered stages (background, electron field,
  network input, network, the rules after it, defect map) and :func:`predict_image`;
- :mod:`ccdnb.predict.files`: every image HDU of a FITS file through the pipeline,
  the masks file written atomically (:func:`predict_fits`, :func:`predict_file`).
"""

from .files import (
    SegmentedFile,
    catalog_path,
    check_tiling,
    ensure_output_dir,
    predict_file,
    predict_fits,
    read_input,
    seam_shares,
    segment_contents,
    segment_to_file,
)
from .pipeline import (
    RULES,
    STAGE_NAMES,
    STAGES,
    FrameState,
    Stage,
    check_stage_names,
    most_probable_class,
    predict_image,
    run_stages,
    stage_table,
    tile_for,
)

__all__ = ["predict_image", "predict_fits", "predict_file", "segment_to_file",
           "segment_contents", "read_input", "SegmentedFile", "catalog_path",
           "ensure_output_dir", "check_tiling", "seam_shares", "most_probable_class",
           "tile_for", "STAGES", "STAGE_NAMES", "RULES", "Stage", "FrameState", "run_stages",
           "check_stage_names", "stage_table"]
