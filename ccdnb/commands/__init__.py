"""Sub-commands of the ``ccdnb`` command line (see :mod:`ccdnb.cli`)."""

from ..errors import CcdnbInputError

__all__ = ["parse_number"]


def parse_number(text, option, kind, minimum):
    """``text`` of command-line ``option`` as ``kind`` (int or float), at least ``minimum``.

    Raises
    ------
    CcdnbInputError
        Not a number of that kind, or below ``minimum``; the message names the option.
    """
    try:
        value = kind(text)
    except ValueError:
        expected = "an integer" if kind is int else "a number"
        raise CcdnbInputError(f"{option} {text!r}: expected {expected}") from None
    if value < minimum:
        raise CcdnbInputError(f"{option} {text!r}: must be at least {minimum}")
    return value
