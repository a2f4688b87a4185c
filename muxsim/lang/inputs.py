"""Reading the files a user names, so that no file can hang or exhaust muxsim.

Every input a user points at (a scenario, a workload, a platform profile,
an earlier ``results.json``) is read by :func:`read_input`. It refuses what
is not a regular file *before* reading from it: a FIFO blocks ``open(2)``
until a writer comes and ``read(2)`` until it writes (``muxsim run fifo.mux``
hung), and ``/dev/zero`` never ends (``muxsim run /dev/zero`` read until
``MemoryError``). It opens with ``O_NONBLOCK``, so even a FIFO that replaces
the file between a check and the open cannot block (fs/fifo.c: ``fifo_open``
returns at once for a non-blocking reader), checks the *opened* descriptor
with ``fstat``, and reads at most the caller's bound.

This module is in the language layer because the parser reads scenarios
with it; it imports only the standard library.
"""

from __future__ import annotations

import os
import stat

#: The largest input file read by default: far above any real scenario or
#: workload (the catalogue's largest scenario is a few KiB), far below memory.
MAX_INPUT_BYTES = 16 << 20

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


class InputFileError(ValueError):
    """An input file that cannot be read as one: ``message`` says why, ``hint`` what to do."""

    def __init__(self, path: str, message: str, hint: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
        self.hint = hint


def read_input(path: str, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them.

    Raises :class:`InputFileError` for a path that cannot be opened, is not
    a regular file (nothing is read from a device, a FIFO or a directory),
    or holds more than ``limit`` bytes.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise InputFileError(path, f"cannot read: {exc.strerror or exc}",
                             "check the path and its permissions") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise InputFileError(path, f"cannot read: it is {kind}, not a regular file",
                                 "give a regular file (copy the input to one first)")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:  # st_size can lie (/proc) or grow: count what is read
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise InputFileError(path, f"too large: more than {limit:,} bytes",
                                 "no input of muxsim is this large; check the path")
        return b"".join(chunks)
    except OSError as exc:
        raise InputFileError(path, f"cannot read: {exc.strerror or exc}",
                             "check the path and its permissions") from None
    finally:
        os.close(fd)
