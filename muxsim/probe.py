"""``muxsim probe``: measure the machine constants the model's byte counts use.

Everything here is read from the running kernel, never assumed:

* sysctls from ``/proc/sys`` (socket buffer defaults and maxima,
  ``fs.pipe-max-size``);
* the default pipe size (``F_GETPIPE_SZ``) and the page size;
* whether this process may exceed ``pipe-max-size`` (``CAP_SYS_RESOURCE``):
  a container's root often may not;
* the skb truesize rule: ``SIOCOUTQ`` on an AF_UNIX socket reports the exact
  memory charged for what was sent, so the probe sends sizes around every
  boundary and finds the ``sizeof(struct skb_shared_info)`` and
  ``sizeof(struct sk_buff)`` (as aligned) that explain every measurement;
* the buffers a loopback TCP connection starts with.
"""

from __future__ import annotations

import array
import contextlib
import errno
import fcntl
import os
import platform
import select
import socket
from dataclasses import replace
from typing import Any

from muxsim.model.profile import DEFAULT, Profile

SIOCOUTQ = 0x5411
F_GETPIPE_SZ = 1032
F_SETPIPE_SZ = 1031
#: Send sizes around the kmalloc, SKB_MAX_HEAD and frag boundaries.
PROBE_SIZES = (1, 64, 128, 192, 193, 256, 700, 704, 705, 1000, 1728, 1729, 1792, 3000,
               3712, 3776, 3777, 4000, 8000, 20000, 36544, 36545)


def _read_int(path: str, default: int) -> int:
    try:
        with open(path) as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def unix_truesize(n: int) -> int:
    """What one ``send`` of ``n`` bytes on a fresh AF_UNIX stream pair charges."""
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        a.send(bytes(n))
        out = array.array("i", [0])
        fcntl.ioctl(a.fileno(), SIOCOUTQ, out, True)
        return int(out[0])


def fit_skb_sizes(measured: dict[int, int], base: Profile) -> Profile | None:
    """The (skb_shared_info, sk_buff) sizes that explain every measurement."""
    for shinfo in range(192, 641, 64):
        for skbuff in range(192, 513, 64):
            candidate = replace(base, skb_shared_info=shinfo, sk_buff=skbuff)
            if all(_stream_truesize(candidate, n) == t for n, t in measured.items()):
                return candidate
    return None


def _stream_truesize(profile: Profile, n: int) -> int:
    """unix_stream_sendmsg's skbs for one send of ``n`` bytes (default sndbuf)."""
    total = 0
    sent = 0
    while sent < n:
        size = min(n - sent, (profile.wmem_default >> 1) - 64,
                   profile.skb_max_head + profile.unix_skb_frags_sz)
        data_len = min(size, profile.page_align(max(0, size - profile.skb_max_head)))
        total += profile.skb_truesize(size - data_len, data_len)
        sent += size
    return total


def can_exceed_pipe_max(pipe_max: int) -> bool:
    r, w = os.pipe()
    try:
        fcntl.fcntl(w, F_SETPIPE_SZ, pipe_max * 2)
    except OSError as exc:
        return exc.errno != errno.EPERM
    finally:
        os.close(r)
        os.close(w)
    return True


def tcp_defaults() -> tuple[int, int]:
    """SO_SNDBUF and SO_RCVBUF of a fresh, connected loopback TCP socket."""
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        client = socket.create_connection(lsock.getsockname(), timeout=5)
        server, _ = lsock.accept()
        with client, server:
            return (client.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
                    server.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))


def probe() -> tuple[Profile, list[str]]:
    """Measure this machine; returns the profile and a human-readable log."""
    log: list[str] = []
    page = os.sysconf("SC_PAGE_SIZE")
    r, w = os.pipe()
    try:
        pipe_size = fcntl.fcntl(w, F_GETPIPE_SZ)
    finally:
        os.close(r)
        os.close(w)
    pipe_max = _read_int("/proc/sys/fs/pipe-max-size", DEFAULT.pipe_max_size)
    profile = replace(
        DEFAULT,
        name=f"probed on Linux {platform.release()} ({platform.machine()})",
        page_size=page,
        pipe_slots=pipe_size // page,
        pipe_max_size=pipe_max,
        cap_sys_resource=can_exceed_pipe_max(pipe_max),
        wmem_default=_read_int("/proc/sys/net/core/wmem_default", DEFAULT.wmem_default),
        rmem_default=_read_int("/proc/sys/net/core/rmem_default", DEFAULT.rmem_default),
        wmem_max=_read_int("/proc/sys/net/core/wmem_max", DEFAULT.wmem_max),
        rmem_max=_read_int("/proc/sys/net/core/rmem_max", DEFAULT.rmem_max),
    )
    log.append(f"page size {page}, pipe {pipe_size} bytes ({profile.pipe_slots} slots), "
               f"pipe-max-size {pipe_max}, may exceed it: {profile.cap_sys_resource}")
    log.append(f"net.core wmem default/max {profile.wmem_default}/{profile.wmem_max}, "
               f"rmem default/max {profile.rmem_default}/{profile.rmem_max}")
    measured = {n: unix_truesize(n) for n in PROBE_SIZES}
    fitted = fit_skb_sizes(measured, profile)
    if fitted is None:
        log.append("WARNING: no skb size pair explains the AF_UNIX truesize measurements; "
                   "keeping the defaults: " + ", ".join(f"{n}->{t}" for n, t in measured.items()))
    else:
        profile = fitted
        log.append(f"skb truesize: skb_shared_info {profile.skb_shared_info}, sk_buff "
                   f"{profile.sk_buff} explain all {len(measured)} measurements")
    with contextlib.suppress(OSError):
        snd, rcv = tcp_defaults()
        profile = replace(profile, tcp_wmem_default=snd, tcp_rmem_default=rcv)
        log.append(f"loopback TCP starts with SO_SNDBUF {snd}, SO_RCVBUF {rcv}")
    return profile, log


# -- system-call costs (issue: the performance model) ------------------------


def fit_line(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares ``y = a + b*x``: (a, b)."""
    n = len(xs)
    if n == 0:
        return 0.0, 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return my, 0.0
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return my - b * mx, b


def probe_costs(sizes: tuple[int, ...] = (10, 100, 1000, 4000, 9000),
                ready: tuple[int, ...] = (1, 10, 100)) -> tuple[dict[str, float], list[str]]:
    """Per-call costs on the real kernel, fitted: seconds, and per descriptor or ready one.

    select and poll are charged per descriptor watched, epoll_wait per event
    returned; each is measured with timeout 0 through Python's ``select``
    module, so the interpreter's own per-call work is part of the cost, as it
    is for a Python server.
    """
    from muxsim.report.claims import SocketPool, per_call

    log: list[str] = []
    rows: dict[str, list[tuple[float, float]]] = {"select": [], "poll": [], "epoll_n": [],
                                                  "epoll_r": [], "ctl": []}
    for n in sizes:
        pool = SocketPool(n)
        try:
            if max(pool.fds) < 1024:
                rows["select"].append((n, per_call(select.select, args=(pool.fds, [], [], 0))))
            poller = select.poll()
            for fd in pool.fds:
                poller.register(fd, select.POLLIN)
            rows["poll"].append((n, per_call(poller.poll, args=(0,))))
            ep = select.epoll()
            try:
                for fd in pool.fds:
                    ep.register(fd, select.EPOLLIN)
                rows["epoll_n"].append((n, per_call(ep.poll, args=(0, 64))))
                fd0 = pool.fds[0]
                rows["ctl"].append((n, per_call(_ctl_pair(ep, fd0))))
            finally:
                ep.close()
        finally:
            pool.close()
    for k in ready:
        pool = SocketPool(2 * k)
        try:
            for i in range(1, len(pool.socks), 2):
                pool.socks[i].send(b"x")
            ep = select.epoll()
            try:
                for fd in pool.fds:
                    ep.register(fd, select.EPOLLIN)
                rows["epoll_r"].append((k, per_call(ep.poll, args=(0, 4 * k))))
            finally:
                ep.close()
        finally:
            pool.close()
    costs: dict[str, float] = {}
    for name, key in (("select", "select"), ("poll", "poll")):
        a, b = fit_line([x for x, _ in rows[key]], [y for _, y in rows[key]])
        costs[f"cost_{name}_base"], costs[f"cost_{name}_per_fd"] = max(a, 0.0), max(b, 0.0)
        log.append(f"{name}: {a * 1e6:.2f} us + {b * 1e9:.1f} ns per descriptor watched")
    a, b = fit_line([x for x, _ in rows["epoll_r"]], [y for _, y in rows["epoll_r"]])
    costs["cost_epoll_wait_base"], costs["cost_epoll_wait_per_ready"] = max(a, 0.0), max(b, 0.0)
    flat = [y for _, y in rows["epoll_n"]]
    log.append(f"epoll_wait: {a * 1e6:.2f} us + {b * 1e9:.1f} ns per event returned "
               f"(with 1 ready among {sizes[0]}..{sizes[-1]}: "
               f"{min(flat) * 1e6:.2f}..{max(flat) * 1e6:.2f} us)")
    costs["cost_epoll_ctl"] = sum(y for _, y in rows["ctl"]) / max(1, len(rows["ctl"])) / 2
    log.append(f"epoll_ctl: {costs['cost_epoll_ctl'] * 1e6:.2f} us per call")
    return costs, log


def _ctl_pair(ep: select.epoll, fd: int) -> Any:
    def modify_twice() -> None:
        ep.modify(fd, select.EPOLLIN | select.EPOLLOUT)
        ep.modify(fd, select.EPOLLIN)

    return modify_twice
