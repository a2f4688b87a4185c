"""Ending one thread's blocking system call with a signal.

A spawned ``wait`` sleeps in one ``epoll_wait`` call. To cancel it (``join``
of a waiter that can never return, or the end of a run), the runner sends a
real-time signal to that thread alone (``pthread_kill``); the call returns
EINTR, and ``epoll_wait`` is never restarted after a signal handler,
whatever ``SA_RESTART`` says (signal(7)). The handler does nothing.

Handlers can only be installed from the main thread; a runner used from
another thread falls back to waiting in short slices (see
:mod:`realmux.waiters`), which can reorder epoll sleepers.
"""

from __future__ import annotations

import signal
import threading

SIGNAL = signal.SIGRTMIN + 5
_installed = False
_lock = threading.Lock()


def _ignore(signum: int, frame: object) -> None:
    """Nothing to do: the signal exists to interrupt a system call."""


def available() -> bool:
    """Install the handler if possible; True when waiters can be interrupted."""
    global _installed
    with _lock:
        if _installed:
            return True
        if threading.current_thread() is not threading.main_thread():
            return False
        signal.signal(SIGNAL, _ignore)
        _installed = True
        return True


def interrupt(ident: int) -> None:
    """Send the signal to one thread of this process (``threading.get_ident()``)."""
    signal.pthread_kill(ident, SIGNAL)
