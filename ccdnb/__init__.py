"""ccdnb: find defects and particle signals in CCD images with a U-Net.

Every pixel is classified as background, glowing, hot pixel or cluster
(see :mod:`ccdnb.classes`). The library simulates images with exact truth,
labels, augments, trains, evaluates and segments real FITS files.
"""

__version__ = "0.1.0"
