"""Writing files so that a crash or an interrupt never leaves half of one.

Reports, traces and recorded scenarios are written to a temporary file in
the same directory, flushed to disk, then renamed over the target
(``rename(2)`` is atomic within a file system): readers see the old file or
the new one, never a mixture.

A *set* of files that belong together (a report's ``index.html``,
``summary.md``, ``results.json`` and ``junit.xml``) needs more: a rename
replaces one name, and an interrupt or a crash between two renames leaves
new files beside old ones. :func:`write_set` writes the whole set into a
staging directory beside the targets first, where a full disk or an
interrupt costs nothing but the staging directory. It then commits with one
atomic step, the rename of a manifest (``.muxsim-switch.json``) that lists
the files to move, and moves them. The moves are renames within one
directory tree (no data is written, so no ``ENOSPC``) and run with SIGINT
blocked, so Ctrl-C cannot fall between two of them. Only a kill or a power
cut can; the manifest then says the switch was committed, and the next
:func:`write_set` (or :func:`finish_switch`) into that directory finishes
it before anything else. Before the manifest exists, the old set is
untouched; after it, the new set is the one that counts.

Every write error names the file it was writing. One writer at a time per
directory: a second one would take the first's staging for a leftover.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterable, Mapping
from typing import Any

MANIFEST = ".muxsim-switch.json"
STAGING_PREFIX = ".muxsim-staging-"


def write_atomic(path: str, text: str) -> None:
    """Replace the regular file at ``path`` (or make it) with ``text``, in one rename.

    A symbolic link is written through: its target gets the new text and
    the link stays (a rename over the link would turn it into a copy and
    leave its target unrecorded). Anything else that is not a regular file
    (a device such as ``/dev/null``, a FIFO, a socket, a directory) is
    refused: renaming over it would destroy it. Every error names ``path``,
    never the temporary file.
    """
    target = os.path.realpath(path) if os.path.islink(path) else path
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, path) from None
    if mode is not None and not stat.S_ISREG(mode):
        raise OSError(errno.EINVAL, "not a regular file (muxsim replaces only regular "
                      "files)", path)
    directory = os.path.dirname(os.path.abspath(target))
    tmp = None
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="-" + os.path.basename(target),
                                   dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode & 0o7777 if mode is not None else 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise OSError(exc.errno, exc.strerror, path) from None
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


def write_jsonl_atomic(path: str, records: Iterable[dict[str, Any]]) -> None:
    write_atomic(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))


def check_out_dir(out_dir: str) -> str | None:
    """Why files cannot be written into ``out_dir``, or None; checked before a long run.

    Nothing is created: the directory, or its nearest existing ancestor when
    it is yet to be made, must be a directory where a file can be created
    (tried, and removed at once: permission bits alone pass for root on a
    read-only file system, and ``/proc`` refuses whatever the bits say).
    """
    probe_dir = os.path.abspath(out_dir)
    while not os.path.lexists(probe_dir):
        probe_dir = os.path.dirname(probe_dir)
    if not os.path.isdir(probe_dir):
        if probe_dir == os.path.abspath(out_dir):
            return "exists and is not a directory"
        return f"{probe_dir} is not a directory"
    try:
        fd, probe = tempfile.mkstemp(prefix=".tmp-check-", dir=probe_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        where = "" if probe_dir == os.path.abspath(out_dir) else f" (in {probe_dir})"
        return f"cannot write there{where}: {exc.strerror or exc}"
    return None


def _write_synced(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SwitchPending(OSError):
    """The new set is committed, but moving it into place failed; the next writer retries."""


def write_set(out_dir: str, files: Mapping[str, str]) -> list[str]:
    """Replace the files ``name -> text`` in ``out_dir`` together; the paths written.

    Readers see the whole old set or the whole new one (see the module's
    docstring for how, and for the one window a kill can open). A failed
    write raises ``OSError`` naming the target path and leaves the old set
    and no staging behind.
    """
    os.makedirs(out_dir, exist_ok=True)
    finish_switch(out_dir)
    staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir)
    committed = False
    try:
        for name, text in files.items():
            if os.sep in name or name in ("", ".", ".."):
                raise ValueError(f"not a file name: {name!r}")
            target = os.path.join(out_dir, name)
            try:
                _write_synced(os.path.join(staging, name), text)
                mode = os.stat(target).st_mode & 0o7777 if os.path.exists(target) else 0o644
                os.chmod(os.path.join(staging, name), mode)
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror or str(exc), target) from exc
        _fsync_dir(staging)
        manifest = {"staging": os.path.basename(staging), "files": sorted(files)}
        write_atomic(os.path.join(out_dir, MANIFEST), json.dumps(manifest) + "\n")  # names it
        committed = True  # from here on the new set is the report
        try:
            finish_switch(out_dir)
        except OSError as exc:
            raise SwitchPending(exc.errno, exc.strerror or str(exc),
                                exc.filename or out_dir) from exc
    finally:
        if not committed:
            shutil.rmtree(staging, ignore_errors=True)
    return [os.path.join(out_dir, name) for name in files]


def finish_switch(out_dir: str) -> None:
    """Finish a switch a kill interrupted, and remove staging no manifest points to."""
    manifest_path = os.path.join(out_dir, MANIFEST)
    blocked = threading.current_thread() is threading.main_thread()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if blocked else None
    try:
        try:
            with open(manifest_path, encoding="utf-8") as handle:
                manifest = json.load(handle)
        except FileNotFoundError:
            manifest = None
        except (OSError, ValueError) as exc:
            raise OSError(getattr(exc, "errno", None), f"unreadable switch manifest ({exc})",
                          manifest_path) from exc
        if manifest is not None:
            staging = os.path.join(out_dir, os.path.basename(str(manifest["staging"])))
            for name in manifest["files"]:
                source = os.path.join(staging, os.path.basename(str(name)))
                if os.path.exists(source):  # absent: moved before the kill
                    os.replace(source, os.path.join(out_dir, os.path.basename(str(name))))
            _fsync_dir(out_dir)
            os.unlink(manifest_path)
        for entry in os.listdir(out_dir):
            if entry.startswith(STAGING_PREFIX):
                shutil.rmtree(os.path.join(out_dir, entry), ignore_errors=True)
    finally:
        if mask is not None:  # a Ctrl-C held meanwhile is raised now, the set whole
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
