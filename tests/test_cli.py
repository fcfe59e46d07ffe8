"""The command line's frame: version, help and the bad-input contract."""

import subprocess
import sys

import ccdnb
from ccdnb import cli
from ccdnb.errors import CcdnbInputError


def test_version_prints_package_version():
    out = subprocess.run([sys.executable, "-m", "ccdnb", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"ccdnb {ccdnb.__version__}"


def test_no_command_prints_help_and_fails(capsys):
    assert cli.main([]) == cli.EXIT_BAD_INPUT
    assert "usage: ccdnb" in capsys.readouterr().out


def test_bad_input_error_is_one_line_and_exit_2(monkeypatch, capsys):
    def boom(args):
        raise CcdnbInputError("/data/x.fits: not a FITS file")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser.set_defaults(_run=boom)
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert err == "ccdnb: error: /data/x.fits: not a FITS file\n"
