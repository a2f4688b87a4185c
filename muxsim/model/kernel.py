"""The model kernel: one task's descriptor table and the system calls on it.

Every system call here is a plain function that changes plain state and
raises the ``OSError`` the real call raises. Nothing here knows about time
or blocking: a call that would sleep (``epoll_wait``, ``poll``, ``select``)
is built in :mod:`muxsim.model.tasks` from the non-blocking pieces here.

The kernel also keeps the *explanation* of what happens: each wakeup, each
epoll callback and each harvest adds a line to :attr:`Kernel.explanation`,
which the runner collects per statement.
"""

from __future__ import annotations

import errno
import itertools
from collections.abc import Callable
from typing import Literal

from muxsim.lang.masks import format_mask
from muxsim.model.eventpoll import EventPoll, do_epoll_ctl
from muxsim.model.inet import TCP_CLOSE, TCP_LISTEN, InetDgram, TcpSock, tcp_establish
from muxsim.model.pipe import PipeEnd, PipeInodeInfo
from muxsim.model.profile import Profile
from muxsim.model.sock import SHUTDOWN_MASK, Sock
from muxsim.model.unix import UnixSock, socketpair
from muxsim.model.vfs import FdTable, File, oserror
from muxsim.model.waitqueue import WaitQueueHead


class Kernel:
    """The model of one process on one Linux machine."""

    def __init__(self, profile: Profile, semantics: str = "linux") -> None:
        self.profile = profile
        self.semantics = semantics
        self.fdt = FdTable(profile.fd_table_size)
        self.tcp_ports: dict[int, TcpSock] = {}
        self._serial = itertools.count(1)
        self._ports = itertools.count(40000)
        self.explanation: list[str] = []
        self.labels: dict[int, str] = {}  # file serial -> the scenario name it was created as
        self.epolls: dict[int, EventPoll] = {}  # epolls with interests (textbook edge checks)
        #: Keep the explanation. Workloads turn it off: formatting a line per
        #: wakeup is most of what a request costs the model.
        self.tracing = True
        #: Wait-queue callbacks run (``ep_poll_callback``, ``pollwake``, the
        #: autoremove wake function...): with system calls and timer expiries,
        #: the events a workload run counts as the model's.
        self.callbacks = 0
        #: Where explanation lines go instead, if set (a workload stamps them).
        self.on_trace: Callable[[str], None] | None = None
        self._stream_truesize: dict[int, int] = {}

    # -- bookkeeping -----------------------------------------------------

    def next_serial(self) -> int:
        return next(self._serial)

    def name_of(self, file: File) -> str:
        return self.labels.get(file.serial, f"{file.kind}#{file.serial}")

    def label(self, file: File, name: str) -> None:
        if file.serial not in self.labels:
            self.labels[file.serial] = name
            file.name_queues(name)

    def trace(self, line: str) -> None:
        if self.tracing:
            if self.on_trace is not None:
                self.on_trace(line)
            else:
                self.explanation.append(line)

    def wake(self, head: WaitQueueHead, key: int | None, why: str) -> None:
        """``wake_up_interruptible_poll`` and friends: one exclusive waiter."""
        if head.entries:
            if self.tracing:
                self.trace(f"{why} -> wake {head.name} key {_key(key)}")
            self.callbacks += head.wake_up(key)

    def wake_all(self, head: WaitQueueHead, key: int | None, why: str) -> None:
        if head.entries:
            if self.tracing:
                self.trace(f"{why} -> wake all on {head.name} key {_key(key)}")
            self.callbacks += head.wake_up_all(key)

    def after_syscall(self) -> None:
        """The textbook policy looks for readiness edges after every call."""
        if self.semantics != "textbook" or not self.epolls:
            return
        for ep in list(self.epolls.values()):
            ep.textbook_edges()
            if not ep.items:
                del self.epolls[ep.serial]

    def stream_skb_truesize(self, size: int) -> int:
        """truesize of one unix_stream_sendmsg skb of ``size`` bytes (memoised).

        unix_stream_sendmsg puts what exceeds SKB_MAX_HEAD(0) in page
        fragments (``data_len``, page aligned, at most ``size``).
        """
        truesize = self._stream_truesize.get(size)
        if truesize is None:
            profile = self.profile
            data_len = min(size, profile.page_align(max(0, size - profile.skb_max_head)))
            truesize = profile.skb_truesize(size - data_len, data_len)
            self._stream_truesize[size] = truesize
        return truesize

    # -- objects ---------------------------------------------------------

    def install(self, file: File, name: str) -> int:
        self.label(file, name)
        try:
            return self.fdt.alloc_fd(file)
        except OSError:
            file.f_count += 1  # fput runs the release of a file nobody holds
            from muxsim.model.vfs import fput

            fput(file)
            raise

    def socketpair(self, a: str, b: str, stype: Literal["stream", "dgram"]) -> tuple[int, int]:
        self.fdt.need(2)  # net/socket.c:__sys_socketpair reserves both numbers first
        left, right = socketpair(self, stype)
        return self.install(left, a), self.install(right, b)

    def pipe(self, r: str, w: str) -> tuple[int, int]:
        self.fdt.need(2)  # fs/pipe.c:__do_pipe_flags reserves both numbers first
        info = PipeInodeInfo(self)
        rfile = PipeEnd(self, info, readable=True)
        wfile = PipeEnd(self, info, readable=False)
        return self.install(rfile, r), self.install(wfile, w)

    def epoll_create(self, e: str) -> int:
        return self.install(EventPoll(self), e)

    def socket(self, x: str, kind: Literal["tcp", "unix", "udp"]) -> int:
        sock: Sock
        if kind == "tcp":
            sock = TcpSock(self)
        elif kind == "unix":
            sock = UnixSock(self, "stream")
        else:
            sock = InetDgram(self)
        return self.install(sock, x)

    def listen(self, name: str) -> tuple[int, int]:
        sock = TcpSock(self)
        sock.state = TCP_LISTEN
        sock.port = next(self._ports)
        self.tcp_ports[sock.port] = sock
        return self.install(sock, name), sock.port

    def connect(self, client: str, port: int) -> tuple[int, OSError | None]:
        """A new TCP socket connects to ``port``; the handshake completes at once."""
        sock = TcpSock(self)
        fd = self.install(sock, client)
        listener = self.tcp_ports.get(port)
        if listener is None or listener.state != TCP_LISTEN:
            # net/ipv4/tcp_input.c:tcp_reset in SYN_SENT: ECONNREFUSED, then
            # tcp_done (CLOSE, SHUTDOWN_MASK). realmux reads the error with
            # SO_ERROR, which clears it.
            sock.state = TCP_CLOSE
            sock.sk_shutdown = SHUTDOWN_MASK
            return fd, oserror(errno.ECONNREFUSED)
        child = listener.clone()
        self.label(child, f"{client}'s peer")
        tcp_establish(sock, child)
        listener.accept_queue.append(child)
        listener.data_ready(f"connect {client}")
        return fd, None

    def tcppair(self, a: str, b: str) -> tuple[int, int]:
        self.fdt.need(2)
        client, server = TcpSock(self), TcpSock(self)
        tcp_establish(client, server)
        return self.install(client, a), self.install(server, b)

    def accept(self, lfd: int, name: str) -> int:
        listener = self.fdt.fget(lfd)
        if not isinstance(listener, Sock):
            raise oserror(errno.ENOTSOCK)
        if not isinstance(listener, TcpSock):
            # unix_accept: EOPNOTSUPP unless a stream socket, then EINVAL unless
            # listening; UDP has sock_no_accept.
            stream = isinstance(listener, UnixSock) and listener.stype == "stream"
            raise oserror(errno.EINVAL if stream else errno.EOPNOTSUPP)
        child = listener.accept()
        self.labels[child.serial] = name
        child.name_queues(name)
        return self.install(child, name)

    def dup(self, fd: int, name: str) -> int:
        file = self.fdt.fget(fd)
        return self.fdt.alloc_fd(file)

    def close(self, fd: int) -> None:
        self.fdt.close(fd)

    # -- data --------------------------------------------------------------

    def send(self, fd: int, n: int) -> int:
        return self.fdt.fget(fd).write(n)

    def recv(self, fd: int, n: int) -> int:
        got = self.fdt.fget(fd).read(n)
        if got < 0:
            raise oserror(-got)
        return got

    def recv_errno(self, fd: int, n: int) -> int:
        """``recv`` as the system call returns it: the bytes, or a negative errno.

        The workload engine reads until EAGAIN on every request; this spares
        it an exception per drained read (what the C library spares a C server).
        """
        try:
            return self.fdt.fget(fd).read(n)
        except OSError as exc:
            return -(exc.errno or errno.EIO)

    def shutdown(self, fd: int, how: int) -> None:
        file = self.fdt.fget(fd)
        if not isinstance(file, Sock):
            raise oserror(errno.ENOTSOCK)  # net/socket.c:__sys_shutdown (sockfd_lookup_light)
        file.shutdown(how)

    def setsockopt(self, fd: int, option: str, value: int) -> None:
        file = self.fdt.fget(fd)
        if option == "pipesize":
            if not isinstance(file, PipeEnd):
                raise oserror(errno.EBADF)  # fs/pipe.c:pipe_fcntl (get_pipe_info is NULL)
            file.set_size(value)
            return
        if not isinstance(file, Sock):
            raise oserror(errno.ENOTSOCK)  # net/socket.c:__sys_setsockopt
        file.setsockopt(option, value)

    def so_error(self, fd: int) -> int:
        file = self.fdt.fget(fd)
        if not isinstance(file, Sock):
            raise oserror(errno.ENOTSOCK)  # net/socket.c:__sys_getsockopt
        return file.sock_error()  # net/core/sock.c:sk_getsockopt(SO_ERROR): read and clear

    # -- epoll_ctl ---------------------------------------------------------

    def epoll_ctl(self, epfd: int, op: str, fd: int, events: int, data: str) -> None:
        """Linux: fs/eventpoll.c:do_epoll_ctl."""
        ef = self.fdt.fget(epfd)
        tf = self.fdt.fget(fd)
        do_epoll_ctl(ef, op, tf, fd, events, data)


def _key(key: int | None) -> str:
    return "none" if key is None else format_mask(key)
