"""epoll, as fs/eventpoll.c builds it.

The facts, from the kernel source (Linux 6.x):

* **Interests are keyed by (file, fd number).** ``ep_find`` looks an item
  up by both, so ``dup``ing a descriptor and adding the dup is a second
  interest in the same file, and closing a number does not remove its
  interest while another reference keeps the file open: only the file's
  final release (``eventpoll_release``) does. A stale interest keeps
  reporting under the data it was registered with.
* **Registration is a wait-queue entry per queue the file polls on**
  (``ep_ptable_queue_proc``), made once, at ``EPOLL_CTL_ADD``. Its callback,
  ``ep_poll_callback``, does not look at the file's state: it drops wakeups
  whose key shares no bit with the interest, then puts the item at the tail
  of the ready list (if it is not there yet) and wakes one epoll_wait
  sleeper. ``EPOLL_CTL_MOD`` never re-registers, which is why it may not
  set ``EPOLLEXCLUSIVE``.
* **The decision is made at harvest** (``ep_send_events``): each queued
  item is polled again and reported with its *current* mask ANDed with the
  interest (which always includes ERR and HUP); an item that is no longer
  ready is dropped silently. A level-triggered item goes back to the tail
  of the ready list, an edge-triggered one does not, a one-shot one is
  disarmed (its interest reduced to the private bits, so every later
  wakeup is ignored until ``EPOLL_CTL_MOD``). Items beyond ``maxevents``
  stay at the head of the ready list for the next call.
* So an edge-triggered interest is reported again after *any* wakeup whose
  key matches, whether or not the file went from not-ready to ready: what
  decides is which state changes wake the file's queue, and with what key.
* **An epoll file is itself pollable** (``ep_eventpoll_poll``): it is
  readable if any queued item is really ready, and the check drops queued
  items that are not. It is woken through its ``poll_wait`` queue
  (``ep_poll_safewake``, key ``EPOLLIN``).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Final

from muxsim.lang.masks import format_mask
from muxsim.model.bits import (
    EPOLLERR,
    EPOLLET,
    EPOLLEXCLUSIVE,
    EPOLLHUP,
    EPOLLIN,
    EPOLLONESHOT,
    EPOLLOUT,
    EPOLLRDNORM,
    EPOLLWAKEUP,
)
from muxsim.model.vfs import File, PollTable, oserror, poll_wait
from muxsim.model.waitqueue import WaitQueueEntry, WaitQueueHead

if TYPE_CHECKING:
    from muxsim.model.kernel import Kernel

EP_PRIVATE_BITS: Final = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE
EPOLLINOUT_BITS: Final = EPOLLIN | EPOLLOUT
EPOLLEXCLUSIVE_OK_BITS: Final = EPOLLINOUT_BITS | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | \
    EPOLLEXCLUSIVE
EP_MAX_NESTS: Final = 4


class EpItem:
    """``struct epitem``: one interest of one epoll in one (file, fd)."""

    __slots__ = ("data", "ep", "events", "fd", "file", "linked", "pwqlist", "was_ready")

    def __init__(self, ep: EventPoll, file: File, fd: int, events: int, data: str) -> None:
        self.ep = ep
        self.file = file
        self.fd = fd
        self.events = events
        self.data = data
        self.linked = False  # on the ready list (ep_is_linked)
        self.was_ready = False  # --semantics textbook: readiness at the last look
        self.pwqlist: list[tuple[WaitQueueHead, WaitQueueEntry]] = []

    def __repr__(self) -> str:
        return f"<epitem {self.data} fd={self.fd}>"


def ep_item_poll(epi: EpItem, pt: PollTable) -> int:
    """``ep_item_poll``: the file's mask, limited to what the interest asks."""
    pt.key = epi.events
    file = epi.file
    res = file.scan(pt) if isinstance(file, EventPoll) else file.poll(pt)
    return res & epi.events


class EventPoll(File):
    """``struct eventpoll`` and its file."""

    kind = "epoll"

    def __init__(self, kernel: Kernel) -> None:
        super().__init__(kernel)
        self.wq = WaitQueueHead(f"epoll#{self.serial}.wq")  # epoll_wait sleepers
        self.poll_wait = WaitQueueHead(f"epoll#{self.serial}.poll_wait")  # pollers of this file
        self.rdllist: list[EpItem] = []
        self.items: dict[tuple[int, int], EpItem] = {}

    # -- the callback ------------------------------------------------------

    def ep_poll_callback(self, entry: WaitQueueEntry, key: int | None) -> int:
        """Linux: fs/eventpoll.c:ep_poll_callback."""
        epi: EpItem = entry.private
        pollflags = key if key is not None else 0
        ewake = 0
        pwake = False
        tracing = self.kernel.tracing
        trace = self.kernel.trace
        if not (epi.events & ~EP_PRIVATE_BITS):
            if tracing:
                trace(f"ep_poll_callback {epi.data}: disarmed (ONESHOT), ignored")
            return 0 if epi.events & EPOLLEXCLUSIVE else 1
        if pollflags and not (pollflags & epi.events):
            if tracing:
                trace(f"ep_poll_callback {epi.data}: key {format_mask(pollflags)} not in its "
                      f"interest {format_mask(epi.events)}, ignored")
            return 0 if epi.events & EPOLLEXCLUSIVE else 1
        if self.kernel.semantics == "textbook" and epi.events & EPOLLET:
            # The textbook reading: a wakeup is no edge; only a not-ready to
            # ready change of the file's state is (see textbook_edges).
            return 0 if epi.events & EPOLLEXCLUSIVE else 1
        if not epi.linked:
            self.rdllist.append(epi)
            epi.linked = True
            if tracing:
                trace(f"ep_poll_callback {epi.data}: queued on ready list of {self.name()}")
        elif tracing:
            trace(f"ep_poll_callback {epi.data}: already on ready list of {self.name()}")
        if self.wq.active():
            if epi.events & EPOLLEXCLUSIVE:
                inout = pollflags & EPOLLINOUT_BITS
                if (inout == EPOLLIN and epi.events & EPOLLIN) or \
                        (inout == EPOLLOUT and epi.events & EPOLLOUT) or not inout:
                    ewake = 1
            self.kernel.callbacks += self.wq.wake_up()
        if self.poll_wait.active():
            pwake = True
        if pwake:
            self.ep_poll_safewake()
        if not (epi.events & EPOLLEXCLUSIVE):
            ewake = 1
        return ewake

    def ep_poll_safewake(self) -> None:
        """``ep_poll_safewake``: wake whoever polls this epoll file, key EPOLLIN."""
        if self.kernel.tracing:
            self.kernel.trace(f"wake {self.name()} poll_wait with key IN")
        self.kernel.callbacks += self.poll_wait.wake_up(EPOLLIN)

    def name(self) -> str:
        return self.kernel.name_of(self)

    def name_queues(self, name: str) -> None:
        self.wq.name = f"{name}.wq"
        self.poll_wait.name = f"{name}.poll_wait"

    # -- registration ------------------------------------------------------

    def ep_ptable_queue_proc(self, epi: EpItem) -> PollTable:
        def qproc(file: File, whead: WaitQueueHead, pt: PollTable) -> None:
            entry = WaitQueueEntry(self.ep_poll_callback, epi)
            if epi.events & EPOLLEXCLUSIVE:
                whead.add_exclusive(entry)
            else:
                whead.add(entry)
            epi.pwqlist.append((whead, entry))

        return PollTable(qproc)

    def ep_insert(self, events: int, file: File, fd: int, data: str) -> None:
        """Linux: fs/eventpoll.c:ep_insert."""
        epi = EpItem(self, file, fd, events, data)
        self.items[(file.serial, fd)] = epi
        file.f_ep.append(epi)
        revents = ep_item_poll(epi, self.ep_ptable_queue_proc(epi))
        epi.was_ready = bool(revents)
        self.kernel.epolls[self.serial] = self
        pwake = False
        if revents and not epi.linked:
            self.rdllist.append(epi)
            epi.linked = True
            self.kernel.trace(f"ep_insert {data}: already ready ({format_mask(revents)}), queued")
            if self.wq.active():
                self.kernel.callbacks += self.wq.wake_up()
            if self.poll_wait.active():
                pwake = True
        if pwake:
            self.ep_poll_safewake()

    def ep_modify(self, epi: EpItem, events: int, data: str) -> None:
        """Linux: fs/eventpoll.c:ep_modify (no new registration)."""
        epi.events = events
        epi.data = data
        pwake = False
        if ep_item_poll(epi, PollTable(None)) and not epi.linked:
            self.rdllist.append(epi)
            epi.linked = True
            self.kernel.trace(f"ep_modify {data}: ready, queued")
            if self.wq.active():
                self.kernel.callbacks += self.wq.wake_up()
            if self.poll_wait.active():
                pwake = True
        if pwake:
            self.ep_poll_safewake()

    def textbook_edges(self) -> None:
        """``--semantics textbook``: queue each ET item whose file just became ready."""
        for epi in list(self.items.values()):
            if not (epi.events & EPOLLET) or not (epi.events & ~EP_PRIVATE_BITS):
                continue
            ready = bool(ep_item_poll(epi, PollTable(None)))
            if ready and not epi.was_ready and not epi.linked:
                self.rdllist.append(epi)
                epi.linked = True
                self.kernel.trace(f"textbook edge: {epi.data} became ready, queued")
                if self.wq.active():
                    self.kernel.callbacks += self.wq.wake_up()
                if self.poll_wait.active():
                    self.ep_poll_safewake()
            epi.was_ready = ready

    def ep_remove(self, epi: EpItem) -> None:
        """Linux: fs/eventpoll.c:ep_remove (unhook from every queue, unlink)."""
        for whead, entry in epi.pwqlist:
            whead.remove(entry)
        epi.pwqlist.clear()
        if epi in epi.file.f_ep:
            epi.file.f_ep.remove(epi)
        if epi.linked:
            self.rdllist.remove(epi)
            epi.linked = False
        self.items.pop((epi.file.serial, epi.fd), None)

    # -- harvest -------------------------------------------------------------

    def events_available(self) -> bool:
        """``ep_events_available``."""
        return bool(self.rdllist)

    def ep_send_events(self, maxevents: int) -> list[tuple[str, int]]:
        """Linux: fs/eventpoll.c:ep_send_events."""
        txlist = self.rdllist  # ep_start_scan
        self.rdllist = []
        res: list[tuple[str, int]] = []
        pt = PollTable(None)
        trace = self.kernel.trace
        tracing = self.kernel.tracing
        # Walk by index: popping the head of a Python list is linear.
        taken = 0
        for epi in txlist:
            if len(res) >= maxevents:
                break
            taken += 1
            epi.linked = False
            revents = ep_item_poll(epi, pt)
            epi.was_ready = bool(revents)
            if not revents:
                if tracing:
                    trace(f"harvest {self.name()}: {epi.data} polled, not ready, dropped")
                continue
            if tracing:
                trace(f"harvest {self.name()}: {epi.data} polled: {format_mask(revents)}")
            res.append((epi.data, revents))
            if epi.events & EPOLLONESHOT:
                epi.events &= EP_PRIVATE_BITS
                if tracing:
                    trace(f"harvest {self.name()}: {epi.data} ONESHOT, disarmed")
            elif not (epi.events & EPOLLET):
                self.rdllist.append(epi)
                epi.linked = True
        self.ep_done_scan(txlist[taken:])
        return res

    def ep_done_scan(self, txlist: list[EpItem]) -> None:
        """Linux: fs/eventpoll.c:ep_done_scan: the rest goes back to the head."""
        self.rdllist = txlist + self.rdllist
        if self.rdllist and self.wq.active():
            self.kernel.callbacks += self.wq.wake_up()

    def scan(self, pt: PollTable | None) -> int:
        """Linux: fs/eventpoll.c:__ep_eventpoll_poll."""
        poll_wait(self, self.poll_wait, pt)
        txlist = self.rdllist
        self.rdllist = []
        res = 0
        inner = PollTable(None)
        while txlist:
            epi = txlist[0]
            if ep_item_poll(epi, inner):
                res = EPOLLIN | EPOLLRDNORM
                break
            txlist.pop(0)
            epi.linked = False
        self.ep_done_scan(txlist)
        return res

    def poll(self, pt: PollTable | None) -> int:
        """Linux: fs/eventpoll.c:ep_eventpoll_poll."""
        return self.scan(pt)

    def release(self) -> None:
        """Linux: fs/eventpoll.c:ep_clear_and_put."""
        if self.poll_wait.active():
            self.ep_poll_safewake()
        for epi in list(self.items.values()):
            self.ep_remove(epi)


def eventpoll_release(file: File) -> None:
    """Linux: fs/eventpoll.c:eventpoll_release: the file's last reference went."""
    for epi in list(file.f_ep):
        epi.ep.ep_remove(epi)


def _depth_down(ep: EventPoll, inserting_into: EventPoll, seen: dict[int, int]) -> int:
    """``ep_loop_check_proc``: how deep epolls nest below ``ep`` (EP_MAX_NESTS+1: a loop)."""
    if ep.serial in seen:
        return seen[ep.serial]
    seen[ep.serial] = 0
    result = 0
    for epi in ep.items.values():
        if isinstance(epi.file, EventPoll):
            if epi.file is inserting_into:
                result = EP_MAX_NESTS + 1
            else:
                result = max(result, _depth_down(epi.file, inserting_into, seen) + 1)
            if result > EP_MAX_NESTS:
                break
    seen[ep.serial] = result
    return result


def _depth_up(ep: EventPoll, seen: dict[int, int]) -> int:
    """``ep_get_upwards_depth_proc``: how many epolls watch ``ep``, nested."""
    if ep.serial in seen:
        return seen[ep.serial]
    result = 0
    for epi in ep.f_ep:
        result = max(result, _depth_up(epi.ep, seen) + 1)
    seen[ep.serial] = result
    return result


def ep_loop_check(ep: EventPoll, to: EventPoll) -> bool:
    """Linux: fs/eventpoll.c:ep_loop_check. True when adding ``to`` to ``ep`` is refused."""
    depth = _depth_down(to, ep, {})
    if depth > EP_MAX_NESTS:
        return True
    return depth + 1 + _depth_up(ep, {}) > EP_MAX_NESTS


def do_epoll_ctl(ef: File, op: str, tf: File, fd: int, events: int, data: str) -> None:
    """Linux: fs/eventpoll.c:do_epoll_ctl, after both descriptors were looked up."""
    if not tf.can_poll():
        raise oserror(errno.EPERM)
    if ef is tf or not isinstance(ef, EventPoll):
        raise oserror(errno.EINVAL)
    if op in ("add", "mod") and events & EPOLLEXCLUSIVE:
        if op == "mod":
            raise oserror(errno.EINVAL)
        if isinstance(tf, EventPoll) or events & ~EPOLLEXCLUSIVE_OK_BITS:
            raise oserror(errno.EINVAL)
    if op == "add" and isinstance(tf, EventPoll) and ep_loop_check(ef, tf):
        raise oserror(errno.ELOOP)
    epi = ef.items.get((tf.serial, fd))
    if op == "add":
        if epi is not None:
            raise oserror(errno.EEXIST)
        ef.ep_insert(events | EPOLLERR | EPOLLHUP, tf, fd, data)
    elif op == "del":
        if epi is None:
            raise oserror(errno.ENOENT)
        ef.ep_remove(epi)
    else:
        if epi is None:
            raise oserror(errno.ENOENT)
        if epi.events & EPOLLEXCLUSIVE:
            raise oserror(errno.EINVAL)
        ef.ep_modify(epi, events | EPOLLERR | EPOLLHUP, data)
