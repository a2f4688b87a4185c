"""Platform profiles: the machine constants the model's byte counts depend on.

Readiness rules are the same on every Linux 6.x machine; how many bytes fit
before a buffer is full is not. The sizes of ``struct sk_buff`` and
``struct skb_shared_info``, the slab sizes ``kmalloc`` rounds to, the page
size and the ``net.core`` buffer sysctls decide what ``send``, ``fill`` and
``drain`` return and when a socket turns writable.

``muxsim probe`` measures them on the real kernel (``SIOCOUTQ`` on an
AF_UNIX socket reports the exact truesize charged for a send) and writes
``<kernel release>.toml`` into the user's platform directory
(:func:`user_dir`); the model loads the profile for the running kernel from
there, else from the repository's ``models/platform/`` (:data:`SHIPPED_DIR`,
profiles that come with muxsim), else uses :data:`DEFAULT` (measured on
Linux 6.18, x86_64, 4 KiB pages).

Neither directory may be derived from this module's ``__file__``: compiled,
this module lives in the compiled model's directory, which ``muxsim
compile`` replaces whole, and a profile written beside it was read only by
the compiled form and lost at the next build. The repository is the one
the sources are in (:data:`muxsim.model.compiled.ROOT`, a module never
compiled); the user's directory is outside the repository, so the default
``muxsim probe`` never modifies a tracked file.
"""

from __future__ import annotations

import os
import platform
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Final

from muxsim.model.compiled import ROOT

#: kmalloc's general caches (mm/slab_common.c: kmalloc_info), x86_64.
KMALLOC_SIZES: Final = (8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192)


@dataclass(frozen=True)
class Profile:
    name: str = "default (Linux 6.18, x86_64)"
    page_size: int = 4096
    pipe_slots: int = 16
    #: fs.pipe-max-size, and whether this process may exceed it (CAP_SYS_RESOURCE).
    pipe_max_size: int = 1048576
    cap_sys_resource: bool = False
    #: SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) and of struct sk_buff.
    skb_shared_info: int = 320
    sk_buff: int = 256
    smp_cache_bytes: int = 64
    #: UNIX_SKB_FRAGS_SZ (net/unix/af_unix.c) and MAX_SKB_FRAGS.
    unix_skb_frags_sz: int = 32768
    max_skb_frags: int = 17
    #: net.core sysctls.
    wmem_default: int = 212992
    rmem_default: int = 212992
    wmem_max: int = 4194304
    rmem_max: int = 4194304
    #: TCP on loopback (first approximation; see muxsim/model/inet.py).
    tcp_wmem_default: int = 2626560
    tcp_rmem_default: int = 131072
    tcp_mss: int = 65483
    #: The route's advertised MSS (loopback MTU 65,536 less 40 bytes of headers):
    #: the client's MSS when it picks its first window, before timestamps count.
    tcp_advmss: int = 65495
    #: TCP_DEFAULT_SCALING_RATIO (include/net/tcp.h): window per buffer byte, in
    #: 1/256ths, before a segment has been measured (tcp_select_initial_window's space).
    tcp_default_scaling_ratio: int = 128
    #: truesize of a TCP skb beyond its payload (alloc_skb_fclone(MAX_TCP_HEADER)),
    #: as sk_wmem_queued counts it (``ss -m``: w33600 for one 32,768-byte skb).
    tcp_skb_overhead: int = 832
    tcp_initial_window: int = 65483
    #: net.ipv4.tcp_rmem[2]: decides the window scale (tcp_select_initial_window).
    tcp_rmem_max: int = 33554432
    tcp_notsent_lowat: int = 0xFFFFFFFF
    #: truesize of a TCP skb a loopback receiver queues, beyond its payload
    #: (``ss -m``: 833 bytes of sk_rmem_alloc for one byte, 20,832 for 20,000).
    tcp_rcv_skb_overhead: int = 832
    #: Descriptors a scenario may hold (realmux's private range).
    fd_table_size: int = 128

    # -- derived ------------------------------------------------------------

    @property
    def skb_max_head(self) -> int:
        """``SKB_MAX_HEAD(0)`` = ``SKB_WITH_OVERHEAD(PAGE_SIZE)``."""
        return self.page_size - self.skb_shared_info

    @property
    def skb_max_alloc(self) -> int:
        """``SKB_MAX_ALLOC`` = ``SKB_MAX_ORDER(0, 2)``."""
        return (self.page_size << 2) - self.skb_shared_info

    def page_align(self, n: int) -> int:
        return -(-n // self.page_size) * self.page_size

    def kmalloc_size_roundup(self, size: int) -> int:
        for bucket in KMALLOC_SIZES:
            if size <= bucket:
                return bucket
        pages = -(-size // self.page_size)
        return self.page_size << max(0, (pages - 1).bit_length())

    def skb_truesize(self, header: int, data_len: int) -> int:
        """truesize of ``alloc_skb_with_frags(header, data_len)`` (net/core/skbuff.c)."""
        align = self.smp_cache_bytes
        head = -(-header // align) * align + self.skb_shared_info
        return self.kmalloc_size_roundup(head) + self.sk_buff + self.page_align(data_len)

    def tcp_wmem_for(self, notsent: int) -> int:
        return notsent


DEFAULT = Profile()

#: Profiles shipped with muxsim: the repository's ``models/platform/``.
SHIPPED_DIR: Final = ROOT / "models" / "platform"


def user_dir() -> Path:
    """Where ``muxsim probe`` writes, read before :data:`SHIPPED_DIR`:
    ``$MUXSIM_PLATFORM_DIR``, else ``$XDG_DATA_HOME/muxsim/platform``, else
    ``~/.local/share/muxsim/platform`` (the XDG base directory rule)."""
    chosen = os.environ.get("MUXSIM_PLATFORM_DIR")
    if chosen:
        return Path(chosen)
    data = os.environ.get("XDG_DATA_HOME")
    base = Path(data) if data and os.path.isabs(data) else Path.home() / ".local" / "share"
    return base / "muxsim" / "platform"


def probe_target(release: str | None = None) -> Path:
    """Where ``muxsim probe`` writes the profile of ``release`` (this kernel's)."""
    return user_dir() / f"{release or platform.release()}.toml"


def find_profile(release: str | None = None) -> Path | None:
    """The profile of ``release`` (this kernel's) the model reads: the user's, else
    the shipped one; None if there is neither."""
    name = f"{release or platform.release()}.toml"
    for directory in (user_dir(), SHIPPED_DIR):
        if (directory / name).is_file():
            return directory / name
    return None


def load_profile(path: Path | None = None) -> Profile:
    """The profile at ``path``, else this kernel's (:func:`find_profile`), else the default."""
    target = path or find_profile()
    if target is None or not target.exists():
        return DEFAULT
    with open(target, "rb") as handle:
        data = tomllib.load(handle)
    known = {f.name for f in fields(Profile)}
    values = {k: v for k, v in data.get("profile", {}).items() if k in known}
    return replace(DEFAULT, **values)


def dump_profile(profile: Profile) -> str:
    lines = ["# muxsim platform profile: written by `muxsim probe`", "[profile]"]
    for key, value in asdict(profile).items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
        elif isinstance(value, float):
            lines.append(f"{key} = {value!r}")
        else:
            lines.append(f'{key} = "{value}"')
    return "\n".join(lines) + "\n"


def this_machine() -> str:
    return f"{platform.release()} {os.uname().machine}"
