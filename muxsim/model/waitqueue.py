"""Wait queues: the one mechanism every readiness notification goes through.

The facts (include/linux/wait.h, kernel/sched/wait.c):

* A wait queue head is an ordered list of entries. An entry has a callback
  (``func``), an ``exclusive`` flag, and whatever the callback needs.
  ``add_wait_queue`` puts an entry at the head; ``add_wait_queue_exclusive``
  puts an exclusive entry at the tail; ``__add_wait_queue_exclusive``
  (what ``ep_poll`` uses for its sleepers) puts an exclusive entry at the
  *head*, so the most recent epoll_wait sleeper is woken first.
* A wakeup carries a *key*: a poll mask saying what happened (``EPOLLIN``
  from ``sock_def_readable``), or none (``sock_def_wakeup``, the
  ``*_all`` variants). Callbacks use the key to ignore wakeups that do not
  concern them (``pollwake``, ``ep_poll_callback``).
* ``__wake_up_common`` walks the entries in order and calls each callback.
  A callback that returns a negative value stops the walk; one that returns
  true for an exclusive entry counts against ``nr_exclusive``, and the walk
  stops when that reaches zero (``wake_up`` passes 1, ``wake_up_all`` 0).
  Non-exclusive entries never stop the walk.

This module knows nothing of files, sockets or epoll: it is gVisor's
``waiter.Queue`` in kernel clothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: A callback: (entry, key) -> int. key is None for an unkeyed wakeup.
WakeFunc = Callable[["WaitQueueEntry", int | None], int]


class WaitQueueEntry:
    """``struct wait_queue_entry``: a callback on one wait queue."""

    __slots__ = ("exclusive", "func", "head", "private")

    def __init__(self, func: WakeFunc, private: Any = None, exclusive: bool = False) -> None:
        self.func = func
        self.private = private
        self.exclusive = exclusive
        self.head: WaitQueueHead | None = None

    @property
    def queued(self) -> bool:
        return self.head is not None


class WaitQueueHead:
    """``struct wait_queue_head``: an ordered list of entries."""

    __slots__ = ("entries", "name")

    def __init__(self, name: str = "") -> None:
        self.entries: list[WaitQueueEntry] = []
        self.name = name

    def __repr__(self) -> str:
        return f"<wq {self.name} {len(self.entries)}>"

    def active(self) -> bool:
        """``waitqueue_active``."""
        return bool(self.entries)

    def add(self, entry: WaitQueueEntry) -> None:
        """``add_wait_queue``: non-exclusive, at the head."""
        entry.exclusive = False
        entry.head = self
        self.entries.insert(0, entry)

    def add_exclusive(self, entry: WaitQueueEntry) -> None:
        """``add_wait_queue_exclusive``: exclusive, at the tail."""
        entry.exclusive = True
        entry.head = self
        self.entries.append(entry)

    def add_exclusive_head(self, entry: WaitQueueEntry) -> None:
        """``__add_wait_queue_exclusive``: exclusive, at the head (ep_poll's sleepers)."""
        entry.exclusive = True
        entry.head = self
        self.entries.insert(0, entry)

    def remove(self, entry: WaitQueueEntry) -> None:
        """``remove_wait_queue`` (a no-op for an entry already removed)."""
        if entry.head is self:
            self.entries.remove(entry)
            entry.head = None

    def wake_up(self, key: int | None = None, nr_exclusive: int = 1) -> int:
        """``__wake_up_common``: call callbacks in order, honouring exclusivity.

        Returns how many callbacks ran (what a run counts as model events).
        """
        entries = self.entries
        if len(entries) == 1:  # the common case: one entry ends the walk, whatever it answers
            entry = entries[0]
            entry.func(entry, key)
            return 1
        ran = 0
        for entry in list(entries):
            if entry.head is not self:
                continue  # removed by an earlier callback in this walk
            ran += 1
            ret = entry.func(entry, key)
            if ret < 0:
                break
            if ret and entry.exclusive:
                nr_exclusive -= 1
                if nr_exclusive == 0:
                    break
        return ran

    def wake_up_all(self, key: int | None = None) -> int:
        """``wake_up_interruptible_all`` and friends: nr_exclusive = 0."""
        return self.wake_up(key, nr_exclusive=0)
