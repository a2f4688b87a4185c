"""muxsim: simulation and property testing of I/O readiness on Linux.

``muxsim.lang`` is the scenario language shared by every backend;
``realmux`` (a sibling package) runs scenarios on the real kernel.
"""

__version__ = "0.1.0"
