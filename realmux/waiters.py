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

Every wait is bounded, and a cancelled waiter must not have seen anything
the real call would not have seen:

* ``poll`` and ``select`` waiters make *one* call, with the scenario's
  timeout, on the scenario's entries plus a private eventfd; cancelling
  writes the eventfd. (Slicing them would be observable: a new call looks
  the numbers up again, so a number closed, or closed and reused, while
  the waiter sleeps would be seen by the next slice, and the kernel's one
  call never looks again.)
* ``epoll_wait`` waiters make one call too, on a private duplicate of the
  epoll descriptor (the same epoll file whatever happens to the scenario's
  number), and are cancelled by a signal to their thread
  (:mod:`realmux.interrupt`). Slicing them would be observable as well:
  every new call puts the thread back at the *head* of ``ep->wq``, and
  epoll wakes its sleepers last-in first-out. Only a runner used from a
  thread other than the main one, where no handler can be installed,
  falls back to slices of :data:`SLICE` seconds.

Cancelling races with the waiter's own end: ``pthread_kill`` on a thread
that has exited (CPython's threads are detached, so its ``pthread_t`` is
freed) or whose id is not known yet (0) is undefined behaviour, a segfault
in practice. So the waiter's end (release, then done) and each interrupt
are made under one lock, and an interrupt is sent only while the thread is
known to be running. Ctrl-C is held off while a waiter starts, so a run
interrupted there knows whether it has a thread. The eventfd that cancels
a ``poll`` or ``select`` is closed by the cancelling thread once the waiter
has finished (:meth:`Waiter.close`), so a late cancel never writes to a
number the next waiter reused.

Looking costs. After every statement the runner looks at every running
waiter (:meth:`Waiter.look`), so a look must be cheap: each waiter keeps
its ``stat``, ``syscall`` and ``schedstat`` files open (above the scenario
ranges) and reads them with ``pread`` at offset 0, which makes procfs
generate them afresh (fs/seq_file.c). A thread is taken for asleep only
when ``stat`` says ``S`` *and* ``syscall`` names its call. ``syscall``
alone is not enough (it was once thought to be, and one run in a few
hundred returned HUNG for a waiter the statement had just woken):
task_current_syscall (fs/proc/base.c:proc_pid_syscall) says ``running``
only for a zero state or a task on a run queue, and a thread woken onto an
idle CPU's wake list (kernel/sched/core.c:ttwu_queue_wakelist) is
``TASK_WAKING``, on no queue, until that CPU takes the IPI; ``stat``
reports it as ``R``. The full check (``wchan`` too) is made only when the
thread has been scheduled since it was last confirmed asleep. Reading
``stat`` and ``syscall`` before ``schedstat`` matters: a thread that runs
between the reads shows a new count, so it is looked at again.

Cheaper still, for the common statement that wakes nobody: every thread's
context switches, summed by one ``getrusage(RUSAGE_SELF)`` (kernel/sys.c
adds each thread's ``nvcsw`` and ``nivcsw``, and those of threads gone),
less the looking thread's own (``RUSAGE_THREAD``): :func:`others_switches`.
If that sum has not moved since the waiters were last known quiet and each
waiter is still asleep in its call, no waiter has run since (a thread
that ran has switched out once, or is running or runnable now), and one
``pread`` per waiter was enough.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from muxsim.lang.outcomes import Hung, Outcome
from realmux.fdspace import above_ranges

#: Syscall numbers a waiter may sleep in (x86_64 and aarch64/generic tables).
_WAIT_SYSCALLS = {
    "x86_64": {7, 23, 232, 270, 271, 281, 441},
    "aarch64": {22, 72, 73, 441},
}
SLICE = 0.02


_CALLS = _WAIT_SYSCALLS.get(os.uname().machine, set())



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
    return SleepState(state == "S" and number in _CALLS, wchan,
                      syscall[0] if syscall else "")


def others_switches() -> int | None:
    """Context switches of every thread of this process but the calling one (None: unsure).

    The calling thread's count is read before and after the process's; a
    switch of its own in between would skew the difference, so it is read
    again until it holds still.
    """
    for _ in range(8):
        mine = resource.getrusage(resource.RUSAGE_THREAD)
        every = resource.getrusage(resource.RUSAGE_SELF)
        again = resource.getrusage(resource.RUSAGE_THREAD)
        if (mine.ru_nvcsw, mine.ru_nivcsw) == (again.ru_nvcsw, again.ru_nivcsw):
            return every.ru_nvcsw + every.ru_nivcsw - mine.ru_nvcsw - mine.ru_nivcsw
    return None


class Waiter:
    """One spawned waiter: a thread running ``call(slice_seconds)`` until done.

    ``call`` performs one bounded wait and returns an outcome, or None when
    the slice ran out with nothing to report.
    """

    def __init__(self, name: str, call: Callable[[float], Outcome | None], timeout: float,
                 empty: Outcome, on_exit: Callable[[], None],
                 interrupt: Callable[[Waiter], None] | None = None,
                 on_close: Callable[[], None] | None = None) -> None:
        self.name = name
        self._empty = empty
        self._interrupt = interrupt  # None: the call is made in slices
        self.timeout = timeout
        self._call = call
        self._on_exit = on_exit
        self._on_close = on_close
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._started = threading.Event()
        self._alive = threading.Lock()  # held to end the thread, and to interrupt it
        self._launched = False
        self.outcome: Outcome | None = None
        self.tid = 0
        self.ident = 0
        self._stat_fd = -1
        self._syscall_fd = -1
        self._schedstat_fd = -1
        self._confirmed = -1  # schedstat run count when last seen asleep in its call
        self.began = time.monotonic()
        self.thread = threading.Thread(target=self._run, name=f"muxsim-waiter-{name}",
                                       daemon=True)

    def start(self) -> None:
        self.began = time.monotonic()
        # Ctrl-C held off until the thread runs (which inherits the block),
        # so an interrupted run knows whether there is a thread to stop.
        main = threading.current_thread() is threading.main_thread()
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if main else None
        try:
            self.thread.start()
            self._launched = True
            self._started.wait(5.0)
        finally:
            if mask is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        base = f"/proc/self/task/{self.tid}/"
        try:
            self._stat_fd = above_ranges(os.open(base + "stat", os.O_RDONLY | os.O_CLOEXEC),
                                         close=True)
            self._syscall_fd = above_ranges(os.open(base + "syscall", os.O_RDONLY | os.O_CLOEXEC),
                                            close=True)
            self._schedstat_fd = above_ranges(
                os.open(base + "schedstat", os.O_RDONLY | os.O_CLOEXEC), close=True)
        except (FileNotFoundError, ProcessLookupError):
            # The thread has finished already: nothing to look at.
            self.close()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close what the looking thread holds: the procfs files and what interrupts the call.

        Only once the thread has finished, and from the thread that looks and
        cancels: closed earlier, a number could be reused by the next waiter,
        and a late cancel would write to that one.
        """
        for fd in (self._stat_fd, self._syscall_fd, self._schedstat_fd):
            if fd >= 0:
                os.close(fd)
        self._stat_fd = self._syscall_fd = self._schedstat_fd = -1
        if self._on_close is not None and (self._done.is_set() or not self._launched):
            self._on_close()
            self._on_close = None

    def _run(self) -> None:
        with self._alive:
            self.tid = threading.get_native_id()  # the kernel's id, for /proc
            self.ident = threading.get_ident()  # the pthread id, for pthread_kill
        self._started.set()
        try:
            if self._interrupt is not None:
                if self._cancel.is_set():  # cancelled before it could be interrupted
                    self.outcome = Hung()
                    return
                outcome = self._call(self.timeout)
                if self._cancel.is_set():
                    outcome = Hung()
                self.outcome = outcome if outcome is not None else self._empty
                return
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
            with self._alive:
                self._on_exit()
                self._done.set()

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def activity(self) -> int:
        """How many times the thread has been scheduled (``/proc/.../schedstat``); -1 if gone."""
        if self._done.is_set() or self._schedstat_fd < 0:
            return -1
        try:
            return int(os.pread(self._schedstat_fd, 128, 0).split()[2])
        except (OSError, ValueError, IndexError):
            return -1

    def _in_wait_call(self) -> bool:
        """Whether ``stat`` says ``S`` and ``syscall`` names a waiting call: asleep in it.

        ``syscall`` alone is not enough: a thread woken onto an idle CPU's
        wake list (kernel/sched/core.c:ttwu_queue_wakelist) is ``TASK_WAKING``
        until that CPU takes the IPI, and task_current_syscall, which wants
        only a non-zero state and the task off every run queue, then names the
        call it is leaving. ``stat`` reports ``TASK_WAKING`` as ``R``
        (fs/proc/array.c:task_state_index masks it out of ``TASK_REPORT``).
        """
        try:
            stat = os.pread(self._stat_fd, 512, 0)
            first = os.pread(self._syscall_fd, 64, 0).split(maxsplit=1)[:1]
        except OSError:
            return False
        state = stat.rpartition(b")")[2].split(maxsplit=1)[:1]
        return (state == [b"S"] and bool(first) and first[0].isdigit()
                and int(first[0]) in _CALLS)

    def asleep_now(self) -> bool:
        """Finished, or seen asleep in its call before and its ``syscall`` still names it."""
        return self._done.is_set() or (self._confirmed >= 0 and self._in_wait_call())

    def switches(self) -> int | None:
        """The thread's own context switches (``status``), as getrusage counts them."""
        try:
            with open(f"/proc/self/task/{self.tid}/status", "rb") as f:
                text = f.read()
        except OSError:
            return None
        total = 0
        for line in text.splitlines():
            if line.startswith((b"voluntary_ctxt_switches:", b"nonvoluntary_ctxt_switches:")):
                total += int(line.split()[1])
        return total

    def look(self, bound: float) -> int | None:
        """The run count once the thread sleeps in its call; -1 once finished; None after ``bound``.

        Two looks that return the same count saw the thread asleep both times
        and never scheduled in between.
        """
        if self._done.is_set():
            return -1
        if self._confirmed >= 0 and self._in_wait_call():
            count = self.activity()
            if count == self._confirmed:
                return count
        state = self.wait_asleep(bound)
        if self._done.is_set():
            return -1
        if not state.asleep:
            return None
        # Read after the state: a run in between only makes the count newer
        # than the sleep we saw, and the next look checks again.
        self._confirmed = self.activity()
        return self._confirmed

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
        self.close()
        return self.outcome if self.outcome is not None else Hung()

    def cancel(self) -> None:
        """Stop the waiting call (or let it stop at its next slice) and wait for the end."""
        self._cancel.set()
        if not self._launched:  # no thread: nothing to stop
            self.close()
            return
        if self._interrupt is not None:
            while not self._done.is_set():
                with self._alive:  # the thread is running, and stays so meanwhile
                    if not self._done.is_set() and self.ident:
                        with contextlib.suppress(OSError):
                            self._interrupt(self)
                self._done.wait(0.05)  # again: the first may land before the call began
        else:
            self._done.wait(SLICE * 5 + 1.0)
        self.close()
