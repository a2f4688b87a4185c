"""The model's hot path compiled by mypyc, and the choice, at import, to use it.

The facts:

* A C10K request is about ten kernel events for the model (system calls,
  wait-queue callbacks) and seven SimPy events; run as C (mypyc compiles
  the same typed modules, unchanged), the model's part of it runs several
  times faster, and a request takes 11 rather than 28 us. The modules stay
  the source of truth: the compiled ones are a cache of them.
* A stale cache must never run: a developer who edits ``unix.py`` and
  reruns the tests must test the edit. So the compiled modules live
  outside the source tree (``<venv>/muxsim-compiled`` unless
  ``MUXSIM_COMPILED_DIR`` says otherwise), with a manifest of the
  SHA-256 of every source they were built from. At import,
  :func:`activate` puts them ahead of the sources only if every digest
  still matches (and the interpreter is the one they were built for);
  otherwise the sources run, as they always can.
* ``MUXSIM_PURE=1`` runs the sources whatever is built.

Built by ``muxsim compile`` (``make install`` runs it; it needs a C
compiler and mypy). What this module does not own: what the model
computes. Both forms run the same code and the suite checks that they
answer alike (tests/test_compiled.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The repository (or site-packages) directory holding ``muxsim``.
ROOT = Path(__file__).resolve().parent.parent.parent

#: The hot path, compiled together as one group.
MODULES = (
    "muxsim/model/bits.py",
    "muxsim/model/waitqueue.py",
    "muxsim/model/vfs.py",
    "muxsim/model/sock.py",
    "muxsim/model/tcpwindow.py",
    "muxsim/model/tcprcvq.py",
    "muxsim/model/unix.py",
    "muxsim/model/inet.py",
    "muxsim/model/pipe.py",
    "muxsim/model/eventpoll.py",
    "muxsim/model/profile.py",
    "muxsim/model/kernel.py",
    "muxsim/model/tasks.py",
    "muxsim/model/costs.py",
    "muxsim/workload/engine.py",
)
GROUP = "muxsim_hot"
MANIFEST = "manifest.json"

_SETUP = """\
import sys
from setuptools import setup
from mypyc.build import mypycify
modules, target, group = sys.argv[1].split(","), sys.argv[2], sys.argv[3]
sys.argv = [sys.argv[0], "build_ext", "--build-lib", target + "/lib",
            "--build-temp", target + "/tmp"]
setup(name="muxsim-compiled", py_modules=[],
      ext_modules=mypycify(modules, group_name=group, target_dir=target + "/c"))
"""


def compiled_dir() -> Path:
    """Where the compiled modules live: ``MUXSIM_COMPILED_DIR``, else in the environment."""
    chosen = os.environ.get("MUXSIM_COMPILED_DIR")
    return Path(chosen) if chosen else Path(sys.prefix) / "muxsim-compiled"


def _interpreter() -> str:
    return f"{sys.implementation.cache_tag}-{sysconfig.get_platform()}"


def _digests() -> dict[str, str]:
    return {m: hashlib.sha256((ROOT / m).read_bytes()).hexdigest() for m in MODULES}


def status(directory: Path | None = None) -> tuple[str, str]:
    """("fresh" | "stale" | "missing" | "disabled", why): may the compiled modules run?"""
    if os.environ.get("MUXSIM_PURE"):
        return "disabled", "MUXSIM_PURE is set"
    where = directory or compiled_dir()
    try:
        manifest = json.loads((where / MANIFEST).read_text())
    except (OSError, ValueError):
        return "missing", f"nothing built in {where} (run `muxsim compile`)"
    if manifest.get("interpreter") != _interpreter():
        return "stale", f"built for {manifest.get('interpreter')}, this is {_interpreter()}"
    try:
        current = _digests()
    except OSError as exc:
        return "stale", f"cannot read the sources: {exc}"
    built = manifest.get("sources", {})
    if set(built) != set(MODULES):  # a module added or dropped since: the build is not this one
        return "stale", f"built from other modules: {', '.join(sorted(set(built) ^ set(MODULES)))}"
    changed = sorted(m for m, d in current.items() if built.get(m) != d)
    if changed:
        return "stale", f"sources changed since the build: {', '.join(changed)}"
    return "fresh", f"compiled modules in {where}"


_ACTIVE: bool | None = None


def activate(package: str, path: list[str]) -> bool:
    """Put the compiled modules of ``package`` ahead of its sources, if they are fresh.

    Called from the package's ``__init__`` before any of its modules is
    imported. The answer is decided once per process, for every package.
    """
    global _ACTIVE
    if _ACTIVE is None:
        _ACTIVE = status()[0] == "fresh"
    if not _ACTIVE:
        return False
    where = compiled_dir()
    inner = str(where.joinpath(*package.split(".")))
    if inner not in path:
        path.insert(0, inner)
    if str(where) not in sys.path:
        sys.path.insert(0, str(where))  # the group's shared library is a top-level module
    return True


def active() -> bool:
    """Whether this process runs the compiled modules."""
    import muxsim.model.kernel as kernel

    return not kernel.__file__ or not kernel.__file__.endswith(".py")


def build(directory: Path | None = None, *,
          progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Compile :data:`MODULES` with mypyc into ``directory``; replace what was there.

    The build happens in a temporary directory beside the target, manifest
    included, and is renamed into place whole: an interrupted build leaves
    the previous one (or nothing), never a mixture.
    """
    where = directory or compiled_dir()
    where.parent.mkdir(parents=True, exist_ok=True)
    digests = _digests()
    with tempfile.TemporaryDirectory(prefix=".muxsim-compile-", dir=where.parent) as work:
        target = Path(work)
        script = target / "setup_compiled.py"
        script.write_text(_SETUP)
        if progress:
            progress(f"mypyc: compiling {len(MODULES)} modules (about a minute)")
        done = subprocess.run(
            [sys.executable, str(script), ",".join(MODULES), str(target), GROUP], cwd=ROOT,
            capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise RuntimeError(f"mypyc failed (exit {done.returncode}):\n{tail}")
        lib = target / "lib"
        (lib / MANIFEST).write_text(json.dumps(
            {"interpreter": _interpreter(), "sources": digests}, indent=1) + "\n")
        old = target / "old"
        if where.exists():
            _rescue_profiles(where, progress)  # first: if it fails, the old build stays
            where.rename(old)
        lib.rename(where)
    if progress:
        progress(f"compiled into {where}")
    return {"directory": str(where), "modules": list(MODULES), "interpreter": _interpreter()}


def remove(directory: Path | None = None) -> bool:
    where = directory or compiled_dir()
    if not where.exists():
        return False
    _rescue_profiles(where)
    shutil.rmtree(where)
    return True


def _rescue_profiles(old: Path, progress: Callable[[str], None] | None = None) -> list[Path]:
    """Move the platform profiles an earlier muxsim wrote into the compiled
    directory (it took the profiles' place from the compiled module's
    ``__file__``) to the user's platform directory, before the directory goes.
    A profile already there is newer: it is kept, and the old one dropped."""
    from muxsim.model.profile import user_dir

    moved: list[Path] = []
    stranded = sorted((old / "models" / "platform").glob("*.toml"))
    if not stranded:
        return moved
    into = user_dir()
    into.mkdir(parents=True, exist_ok=True)
    for profile in stranded:
        if not (into / profile.name).exists():
            partial = into / f".{profile.name}.partial"
            shutil.copy2(profile, partial)
            os.replace(partial, into / profile.name)  # whole or not at all
            moved.append(into / profile.name)
            if progress:
                progress(f"moved the platform profile {profile.name} to {into}")
    return moved
