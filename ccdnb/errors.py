"""Exceptions that the command line turns into one clear line and exit code 2."""

__all__ = ["CcdnbInputError", "one_line"]


class CcdnbInputError(ValueError):
    """Bad input from the user: a file, a parameter, an image or a model that cannot be used.

    A subclass of :class:`ValueError`, so ``except ValueError`` in calling code
    catches it too. The message must name the offending file or option and what
    is wrong with it; :func:`ccdnb.cli.main` prints it as one line on stderr and
    exits with code 2.
    """


def one_line(err: BaseException) -> str:
    """The first line of an exception's message (error reports stay one line)."""
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
