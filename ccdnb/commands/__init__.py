"""Sub-commands of the ``ccdnb`` command line (see :mod:`ccdnb.cli`)."""
