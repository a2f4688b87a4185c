"""Blocking system calls as SimPy processes: ``epoll_wait``, ``poll``, ``select``.

SimPy carries time and blocking only. A task that must sleep puts a
wait-queue entry on the queues it waits on and yields a SimPy event; the
entry's callback (``ep_autoremove_wake_function``, ``pollwake``) succeeds
that event, exactly where the kernel's ``try_to_wake_up`` would make the
task runnable. A wakeup that finds the task already woken changes nothing
and returns 0, as ``try_to_wake_up`` does for a running task.

The loops below follow the kernel's: ``ep_poll`` (fs/eventpoll.c) and
``do_poll``/``do_select`` (fs/select.c), including that a woken task
re-checks everything and goes back to sleep if nothing is ready after all.
"""

from __future__ import annotations

import errno
import math
from collections.abc import Callable, Generator
from typing import Any, Final

import simpy

from muxsim.model.bits import (
    EPOLLERR,
    EPOLLHUP,
    EPOLLIN,
    EPOLLNVAL,
    EPOLLOUT,
    EPOLLPRI,
    EPOLLRDBAND,
    EPOLLRDNORM,
    EPOLLWRBAND,
    EPOLLWRNORM,
)
from muxsim.model.eventpoll import EventPoll
from muxsim.model.kernel import Kernel
from muxsim.model.vfs import File, PollTable, fput, get_file, oserror
from muxsim.model.waitqueue import WaitQueueEntry, WaitQueueHead

# fs/select.c: a descriptor closed under a sleeping select shows up in every set
# it was asked for (EPOLLNVAL is in all three).
POLLIN_SET: Final = EPOLLRDNORM | EPOLLRDBAND | EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLNVAL
POLLOUT_SET: Final = EPOLLWRBAND | EPOLLWRNORM | EPOLLOUT | EPOLLERR | EPOLLNVAL
POLLEX_SET: Final = EPOLLPRI | EPOLLNVAL

Proc = Generator[simpy.Event, Any, Any]

#: INT_MAX / sizeof(struct epoll_event) on x86_64 (fs/eventpoll.c).
EP_MAX_EVENTS: Final = 0x7FFFFFFF // 12


class _Wakeup(simpy.Event):
    """What a sleeping task waits on.

    A wakeup with the scheduler's delay succeeds it at once *for a later
    time*: one SimPy event, scheduled as ``simpy.Timeout`` schedules itself,
    rather than a timeout whose callback then succeeds a second event.
    ``triggered`` is then true (the task is runnable, so a second wakeup
    finds it running) while ``processed`` waits for the task to run.
    """

    def succeed_after(self, delay: float,
                      schedule: Callable[[simpy.Event, simpy.events.EventPriority, float],
                                         None]) -> None:
        """Succeed ``delay`` seconds from now (the caller wakes a task only once);
        ``schedule`` is the environment's, bound once by the caller."""
        self._ok = True
        self._value = None
        schedule(self, _NORMAL, delay)


_NORMAL = simpy.events.NORMAL


class Task:
    """A thread of the scenario that can sleep in the kernel."""

    RUNNING: Final = "running"
    SLEEPING: Final = "sleeping"

    def __init__(self, env: simpy.Environment, name: str,
                 trace: Callable[[str], None] | None = None) -> None:
        self.env = env
        self.name = name
        self.trace = trace
        self.state = Task.RUNNING
        self.event: _Wakeup | None = None
        #: A wakeup came for the present sleep (its event is triggered).
        self.woken = False
        self.entries: list[tuple[WaitQueueHead, WaitQueueEntry]] = []
        #: Counters for workloads: times this task went to sleep and was woken,
        #: and wait-queue entries its poll and select calls hooked (``__pollwait``).
        self.sleeps = 0
        self.wakeups = 0
        #: Sleeps a timer ended (``hrtimer_wakeup``), among the wakeups.
        self.timer_ends = 0
        self.registered = 0
        #: Seconds from a wakeup to the task running again (the scheduler's
        #: delay), given the seconds it slept. Scenarios have none; workloads
        #: use the measured latency.
        self.wake_delay: Callable[[float], float] | None = None
        self._schedule = env.schedule  # bound once: a wakeup is the hottest path
        self.slept_at = 0.0
        #: Seconds the last sleep lasted, up to the wakeup or the timeout.
        self.last_asleep = 0.0

    def try_to_wake_up(self) -> int:
        """``default_wake_function``: 1 if this woke a sleeping task, else 0."""
        event = self.event
        if self.state != Task.SLEEPING or self.woken or event is None:
            return 0
        self.woken = True
        if self.trace is not None:
            self.trace(f"{self.name} woken")
        self.wakeups += 1
        self.last_asleep = self.env.now - self.slept_at
        if self.wake_delay is not None:
            # try_to_wake_up makes the task runnable at once (a second wakeup
            # finds it running); it runs when the scheduler gets to it.
            self.state = Task.RUNNING
            event.succeed_after(self.wake_delay(self.last_asleep), self._schedule)
            return 1
        event.succeed()
        return 1

    def sleep(self, deadline: float) -> Generator[simpy.Event, Any, bool]:
        """``schedule_hrtimeout_range``: True if woken, False if the deadline passed."""
        self.sleeps += 1
        self.state = Task.SLEEPING
        self.event = event = _Wakeup(self.env)
        self.woken = False
        self.slept_at = self.env.now
        try:
            if math.isinf(deadline):
                yield event
                return True
            timer = simpy.Timeout(self.env, max(0.0, deadline - self.env.now))
            yield event | timer
            if not self.woken:
                # The hrtimer ended the sleep: it wakes the task too
                # (hrtimer_wakeup -> wake_up_process), with the same delay.
                self.last_asleep = self.env.now - self.slept_at
                self.wakeups += 1
                self.timer_ends += 1
                if self.wake_delay is not None:
                    self.state = Task.RUNNING
                    yield simpy.Timeout(self.env, self.wake_delay(self.last_asleep))
                return False
            if not event.processed and self.state != Task.SLEEPING:
                # Woken before the deadline, still waiting to run (wake_delay):
                # it runs when the scheduler gets to it, as woken.
                yield event
            return True
        finally:
            self.state = Task.RUNNING

    def forget(self) -> None:
        """Remove every wait-queue entry this task still has (it is being cancelled)."""
        for head, entry in self.entries:
            head.remove(entry)
        self.entries.clear()


def _deadline(env: simpy.Environment, timeout: float) -> float:
    return math.inf if math.isinf(timeout) else env.now + timeout


def ep_poll(kernel: Kernel, task: Task, epfd: int, maxevents: int,
            timeout: float) -> Generator[simpy.Event, Any, list[tuple[str, int]]]:
    """Linux: fs/eventpoll.c:ep_poll (do_epoll_wait checks maxevents, then the descriptor)."""
    if maxevents <= 0 or maxevents > EP_MAX_EVENTS:
        raise oserror(errno.EINVAL)
    file = kernel.fdt.fget(epfd)
    if not isinstance(file, EventPoll):
        raise oserror(errno.EINVAL)
    ep = file
    get_file(ep)  # fdget: the call holds the file while it sleeps
    try:
        deadline = _deadline(task.env, timeout)
        timed_out = timeout == 0
        eavail = ep.events_available()
        while True:
            if eavail:
                res = ep.ep_send_events(maxevents)
                if res:
                    return res
            if timed_out:
                return []
            eavail = ep.events_available()
            entry: WaitQueueEntry | None = None
            if not eavail:
                entry = WaitQueueEntry(_autoremove_wake, task)
                ep.wq.add_exclusive_head(entry)
                task.entries = [(ep.wq, entry)]
                if kernel.tracing:
                    kernel.trace(f"{task.name} sleeps in epoll_wait on {kernel.name_of(ep)}")
                woken = yield from task.sleep(deadline)
                timed_out = not woken
            eavail = True
            if entry is not None and entry.queued:
                if timed_out:
                    eavail = False
                ep.wq.remove(entry)
            task.entries = []
    finally:
        fput(ep)


def _autoremove_wake(entry: WaitQueueEntry, key: int | None) -> int:
    """``ep_autoremove_wake_function``: wake the task and leave the queue."""
    task: Task = entry.private
    ret = task.try_to_wake_up()
    if ret and entry.head is not None:
        entry.head.remove(entry)
    return ret


class PollWqueues:
    """``struct poll_wqueues``: the entries of one poll or select call."""

    def __init__(self, kernel: Kernel, task: Task) -> None:
        self.kernel = kernel
        self.task = task
        self.triggered = False
        self.files: list[File] = []
        self.entries: list[tuple[WaitQueueHead, WaitQueueEntry]] = []
        task.entries = self.entries  # what cancelling the task must unhook

    def qproc(self, file: File, head: WaitQueueHead, pt: PollTable) -> None:
        """``__pollwait``: hold the file, hook a ``pollwake`` entry with the wanted key."""
        self.files.append(get_file(file))
        entry = WaitQueueEntry(self.pollwake, pt.key)
        head.add(entry)
        self.entries.append((head, entry))
        self.task.registered += 1

    def pollwake(self, entry: WaitQueueEntry, key: int | None) -> int:
        """Linux: fs/select.c:pollwake."""
        if key is not None and not (key & entry.private):
            return 0
        self.triggered = True
        return self.task.try_to_wake_up()

    def schedule_timeout(self, deadline: float) -> Generator[simpy.Event, Any, bool]:
        """``poll_schedule_timeout``: sleep unless already triggered; False on timeout."""
        woken = True
        if not self.triggered:
            woken = yield from self.task.sleep(deadline)
        self.triggered = False
        return woken

    def free(self) -> None:
        """``poll_freewait``."""
        for head, entry in self.entries:
            head.remove(entry)
        self.entries.clear()
        files, self.files = self.files, []
        for file in files:
            fput(file)


def do_poll(kernel: Kernel, task: Task, fds: list[tuple[int, int]],
            timeout: float) -> Generator[simpy.Event, Any, list[int]]:
    """Linux: fs/select.c:do_sys_poll + do_poll + do_pollfd."""
    table = PollWqueues(kernel, task)
    # do_sys_poll: a zero timeout means no poll table at all (no registration).
    pt = PollTable(None if timeout == 0 else table.qproc)
    deadline = _deadline(task.env, timeout)
    timed_out = timeout == 0
    count = 0
    try:
        while True:
            revents: list[int] = []
            for fd, events in fds:
                mask = 0
                if fd >= 0:
                    file = kernel.fdt.lookup(fd)
                    if file is None:
                        mask = EPOLLNVAL
                    else:
                        filt = (events & 0xFFFF) | EPOLLERR | EPOLLHUP
                        pt.key = filt
                        mask = file.poll(pt) & filt
                if mask:
                    count += 1
                    pt.qproc = None
                revents.append(mask)
            pt.qproc = None
            if count or timed_out:
                return revents
            kernel.trace(f"{task.name} sleeps in poll")
            if not (yield from table.schedule_timeout(deadline)):
                timed_out = True
    finally:
        table.free()


def do_select(kernel: Kernel, task: Task, sets: tuple[list[int], list[int], list[int]],
              timeout: float) -> Generator[simpy.Event, Any, tuple[set[int], set[int], set[int]]]:
    """Linux: fs/select.c:do_select (with max_select_fd's EBADF check first)."""
    rset, wset, xset = (set(s) for s in sets)
    for fd in sorted(rset | wset | xset):
        if kernel.fdt.lookup(fd) is None:
            raise oserror(errno.EBADF)
    table = PollWqueues(kernel, task)
    # do_select: a zero timeout means no poll table at all (no registration).
    pt = PollTable(None if timeout == 0 else table.qproc)
    deadline = _deadline(task.env, timeout)
    timed_out = timeout == 0
    try:
        while True:
            res: tuple[set[int], set[int], set[int]] = (set(), set(), set())
            retval = 0
            for fd in sorted(rset | wset | xset):
                file = kernel.fdt.lookup(fd)
                key = POLLEX_SET
                if fd in rset:
                    key |= POLLIN_SET
                if fd in wset:
                    key |= POLLOUT_SET
                pt.key = key
                mask = EPOLLNVAL if file is None else file.poll(pt)
                if mask & POLLIN_SET and fd in rset:
                    res[0].add(fd)
                    retval += 1
                    pt.qproc = None
                if mask & POLLOUT_SET and fd in wset:
                    res[1].add(fd)
                    retval += 1
                    pt.qproc = None
                if mask & POLLEX_SET and fd in xset:
                    res[2].add(fd)
                    retval += 1
                    pt.qproc = None
            pt.qproc = None
            if retval or timed_out:
                return res
            kernel.trace(f"{task.name} sleeps in select")
            if not (yield from table.schedule_timeout(deadline)):
                timed_out = True
    finally:
        table.free()
