"""``python -m muxsim``: the same command line as ``muxsim``."""

from muxsim.cli import main

if __name__ == "__main__":
    main(prog_name="muxsim")
