"""Spawned waiters: a ``wait``, ``poll`` or ``select`` blocked in another thread.

``spawn T STATEMENT`` promises that the next statement starts only once T
is asleep in the kernel, that is, once its wait-queue entries are in place
(fs/select.c:do_select and do_poll poll every file, registering on its
queue, before they sleep; fs/eventpoll.c:ep_poll adds the caller to
``ep->wq`` before it sleeps). Sleeping a fixed time would only make that
likely. Instead we read the thread's own entries in procfs:
``/proc/self/task/<tid>/stat`` says ``S`` (interruptible sleep) and
``/proc/self/task/<tid>/syscall`` names the system call it sleeps in
(poll, select, pselect6, ppoll, epoll_wait, epoll_pwait, epoll_pwait2);
``wchan`` is recorded too, for the trace. A thread waiting for the GIL
sleeps in ``futex`` and does not count.

Every wait is bounded. A waiter with ``timeout=inf`` sleeps in slices of
:data:`SLICE` seconds and stops when cancelled: an epoll_wait, poll or
select that timed out with nothing ready has no side effect, so a slice
boundary changes nothing the scenario can observe, except for the instant
between two slices when the thread is not on any wait queue (an
EXCLUSIVE wakeup at that instant would pick another waiter; the window is
a few microseconds every :data:`SLICE` seconds).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from muxsim.lang.outcomes import Hung, Outcome

#: Syscall numbers a waiter may sleep in (x86_64 and aarch64/generic tables).
_WAIT_SYSCALLS = {
    "x86_64": {7, 23, 232, 270, 271, 281, 441},
    "aarch64": {22, 72, 73, 441},
}
SLICE = 0.2


def _machine() -> str:
    return os.uname().machine


@dataclass(frozen=True, slots=True)
class SleepState:
    asleep: bool
    wchan: str
    syscall: str


def sleep_state(tid: int) -> SleepState:
    """Whether thread ``tid`` of this process is asleep in a waiting system call."""
    base = f"/proc/self/task/{tid}/"
    try:
        with open(base + "stat") as f:
            stat = f.read()
        with open(base + "syscall") as f:
            syscall = f.read().split()
        with open(base + "wchan") as f:
            wchan = f.read().strip()
    except OSError:
        return SleepState(False, "", "")
    state = stat.rpartition(")")[2].split()[0]
    number = int(syscall[0]) if syscall and syscall[0].lstrip("-").isdigit() else -1
    calls = _WAIT_SYSCALLS.get(_machine(), set())
    return SleepState(state == "S" and number in calls, wchan, syscall[0] if syscall else "")


class Waiter:
    """One spawned waiter: a thread running ``call(slice_seconds)`` until done.

    ``call`` performs one bounded wait and returns an outcome, or None when
    the slice ran out with nothing to report.
    """

    def __init__(self, name: str, call: Callable[[float], Outcome | None], timeout: float,
                 empty: Outcome, on_exit: Callable[[], None]) -> None:
        self.name = name
        self._empty = empty
        self.timeout = timeout
        self._call = call
        self._on_exit = on_exit
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._started = threading.Event()
        self.outcome: Outcome | None = None
        self.tid = 0
        self.began = time.monotonic()
        self.thread = threading.Thread(target=self._run, name=f"muxsim-waiter-{name}",
                                       daemon=True)

    def start(self) -> None:
        self.began = time.monotonic()
        self.thread.start()
        self._started.wait(5.0)

    def _run(self) -> None:
        self.tid = threading.get_native_id()
        self._started.set()
        try:
            deadline = self.began + self.timeout
            while True:
                remaining = deadline - time.monotonic()
                if not math.isinf(remaining) and remaining <= 0:
                    remaining = 0.0
                outcome = self._call(min(SLICE, remaining))
                if outcome is not None:
                    self.outcome = outcome
                    return
                if remaining <= SLICE:
                    self.outcome = self._empty
                    return
                if self._cancel.is_set():
                    self.outcome = Hung()
                    return
        finally:
            self._on_exit()
            self._done.set()

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def wait_asleep(self, bound: float) -> SleepState:
        """Block until the thread sleeps in its waiting call, has finished, or ``bound``."""
        deadline = time.monotonic() + bound
        pause = 0.0001
        state = SleepState(False, "", "")
        while not self._done.is_set():
            state = sleep_state(self.tid)
            if state.asleep:
                return state
            if time.monotonic() >= deadline:
                return state
            time.sleep(pause)
            pause = min(pause * 2, 0.002)
        return SleepState(False, "finished", "")

    def join(self, watchdog: float) -> Outcome:
        """The waiter's outcome; HUNG if it is still waiting ``watchdog`` after it could end."""
        limit = watchdog
        if not math.isinf(self.timeout):
            limit += max(0.0, self.began + self.timeout - time.monotonic())
        if not self._done.wait(limit):
            self.cancel()
        return self.outcome if self.outcome is not None else Hung()

    def cancel(self) -> None:
        """Stop at the next slice boundary and wait for the thread to end."""
        self._cancel.set()
        self._done.wait(SLICE * 5 + 1.0)
