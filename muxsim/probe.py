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
import socket
from dataclasses import replace

from muxsim.model.profile import DEFAULT, Profile

SIOCOUTQ = 0x5411
F_GETPIPE_SZ = 1032
F_SETPIPE_SZ = 1031
#: Send sizes around the kmalloc, SKB_MAX_HEAD and frag boundaries.
PROBE_SIZES = (1, 64, 128, 192, 193, 256, 700, 704, 705, 1000, 1728, 1729, 1792, 3000,
               3712, 3776, 3777, 4000, 8000, 20000, 36544, 36545)


def _read_int(path: str, default: int, field: int = 0) -> int:
    try:
        with open(path) as handle:
            return int(handle.read().split()[field])
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
        # tcp_rmem[2] decides TCP's window scale (tcp_select_initial_window).
        tcp_rmem_max=_read_int("/proc/sys/net/ipv4/tcp_rmem", DEFAULT.tcp_rmem_max, 2),
    )
    log.append(f"page size {page}, pipe {pipe_size} bytes ({profile.pipe_slots} slots), "
               f"pipe-max-size {pipe_max}, may exceed it: {profile.cap_sys_resource}")
    log.append(f"net.core wmem default/max {profile.wmem_default}/{profile.wmem_max}, "
               f"rmem default/max {profile.rmem_default}/{profile.rmem_max}, "
               f"net.ipv4.tcp_rmem max {profile.tcp_rmem_max}")
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
