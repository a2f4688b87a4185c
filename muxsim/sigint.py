"""Ctrl-C that always ends a command, even when Python loses the exception.

CPython turns SIGINT into ``KeyboardInterrupt`` raised at whatever bytecode
the main thread runs next. Where that is code whose exceptions are not
allowed to propagate, the interrupt is printed as "Exception ignored in"
and lost: garbage-collector callbacks (Hypothesis registers one, its
``junkdrawer.gc_callback``, to time collections), ``__del__`` methods,
weakref callbacks. About one Ctrl-C in nine landed there during
``muxsim fuzz``, which then ran on to the end of its examples.

:func:`latched_interrupts` keeps the usual behaviour (the handler still
raises ``KeyboardInterrupt`` at once) and also *latches* the interrupt: a
long loop calls :func:`check_interrupted` at its safe points (between two
examples, in a progress callback, while waiting for workers), which raises
again if an interrupt was received and swallowed. Leaving the block with
the latch set raises too, so a command that got Ctrl-C never reports
success. A swallowed interrupt is not printed: it is handled here.

Only the main thread can install a signal handler; elsewhere, and outside
the block, :func:`check_interrupted` does nothing.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

_latched = False
_depth = 0


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    global _latched
    _latched = True
    raise KeyboardInterrupt


def check_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C arrived, even if it was swallowed since."""
    if _latched:
        raise KeyboardInterrupt



def forget_in_child() -> None:
    """In a forked worker that leaves Ctrl-C to its parent: no latch, no block to end."""
    global _latched, _depth
    _latched, _depth = False, 0


@contextlib.contextmanager
def latched_interrupts() -> Iterator[None]:
    """SIGINT raises ``KeyboardInterrupt`` and is remembered until the block ends."""
    global _latched, _depth
    if _depth or threading.current_thread() is not threading.main_thread():
        yield  # the outer block, or no handler to install here
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    hook = sys.unraisablehook

    def quiet(unraisable: Any) -> None:
        if not (_latched and isinstance(unraisable.exc_value, KeyboardInterrupt)):
            hook(unraisable)

    _latched, _depth = False, 1
    sys.unraisablehook = quiet
    try:
        try:
            yield
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            # An interrupt that a library turned into another error is still Ctrl-C.
            if _latched:
                raise KeyboardInterrupt from exc
            raise
        check_interrupted()
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = hook
        _latched, _depth = False, 0


__all__ = ["check_interrupted", "forget_in_child", "latched_interrupts"]
