"""realmux: run muxsim scenarios on the real Linux kernel.

Imports only ``muxsim.lang`` (the shared scenario language) and the
standard library; never the model. ``tests/test_layering.py`` enforces it.
"""

from realmux.runner import RealKernel

__all__ = ["RealKernel"]
