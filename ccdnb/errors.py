"""Exceptions that the command line turns into one clear line and exit code 2."""


class CcdnbInputError(Exception):
    """Bad input from the user: a file, a parameter or a model that cannot be used.

    The message must name the offending file or option and what is wrong with it;
    :func:`ccdnb.cli.main` prints it as one line on stderr and exits with code 2.
    """
