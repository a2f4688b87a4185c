"""The model: a discrete-event simulation, on SimPy, of Linux's readiness machinery.

Kernel objects are plain state machines named after their Linux
counterparts (:mod:`waitqueue`, :mod:`vfs`, :mod:`eventpoll`, :mod:`pipe`,
:mod:`unix`, :mod:`inet`); only blocked system calls are SimPy processes
(:mod:`tasks`). :mod:`runner` executes scenarios on it.
"""

from muxsim.model.compiled import activate

activate(__name__, __path__)  # the compiled hot path, if built from these very sources

from muxsim.model.runner import SimKernel  # noqa: E402

__all__ = ["SimKernel"]
