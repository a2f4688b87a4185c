"""A seeded generator of malformed inputs, and the campaign that feeds them to muxsim.

Why: "bad input is ``FILE:LINE:COL: message`` plus a hint, exit 2, never a
traceback, whatever the bytes" is a claim about every input, so it is
tested with inputs nobody wrote by hand (issue 11). Each case starts from a
real file (a catalogue ``.mux`` scenario or a shipped workload ``.toml``) and
is broken in one or two ways the issue found or that sit next to them:

* byte-wise: bytes flipped, hostile bytes inserted (NUL, invalid UTF-8,
  ``\\x85``, U+2028, form feeds, a BOM, a right-to-left override), ranges
  cut or doubled;
* token-wise: a word replaced by a hostile one (5,000 digits, leading zeros,
  a 40-bit mask, ``1e-99999``, ``nan``, 1,100 names in a select set ...);
* line-wise: lines joined by an odd separator (\\f, \\v, \\x1c-\\x1e, \\x85,
  U+2028, U+2029, a lone \\r), doubled, dropped or swapped;
* whole files: a megabyte on one line, random bytes, an empty file, TOML
  nested 500 deep.

Case ``i`` of seed ``s`` depends on ``(s, i)`` alone, so any sample of a
campaign is the same cases every time, and a failing case is regenerated
by its number (``--only I``).

The campaign runs every case where a user would: a ``.mux`` with ``run --on
sim``, ``run --on real`` and ``record --on real -o`` (whose output, after an
exit 0, must parse to the same statements); a workload through the parser
and, when it parses to something small enough, ``explore``. Runs happen in
worker processes, in-process through click's runner (a few milliseconds a
run); each run has a time bound, and a worker past it is killed and the
case counted as a hang. A run *passes the campaign* when it exits 0, 1 or 2
with no traceback and in time; exit 3, a traceback or a hang fails it.

    python -m tests.malformed --count 2000 --seed 1 --jobs 2
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCES_MUX = sorted((ROOT / "models").glob("*/*.mux"))
SOURCES_TOML = sorted((ROOT / "models" / "scenarios").glob("*.toml"))

#: Bytes a hostile editor, terminal or file system might put anywhere.
HOSTILE_BYTES = (
    b"\x00", b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xc2\x85", b"\x85",
    "\u2028".encode(), "\u2029".encode(), "\u202e".encode(), "\u00a0".encode(),
    b"\x0c", b"\x0b", b"\r", b"\x1c", b"\x1d", b"\x1e", b"\x1b[2J", b"\x7f",
    b"\xef\xbb\xbf", b"\t", b"\n", b"\r\n", b"=>", b"#", b"|", b",", b":", b"=", b" ",
)
#: The separators str.splitlines breaks at and a line ending does not.
ODD_SEPARATORS = ("\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r")
#: Words a scenario must refuse or survive. No finite wait longer than a
#: second is made here, so that a run's time stays bounded by its statements.
HOSTILE_WORDS = (
    "9" * 5000, "0" * 5000 + "1", "-" + "9" * 5000, "0010", "00", "-0", "-1", "0", "1",
    "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967296",
    "9223372036854775808", "268435456", "268435457", "65536", "999999",
    "0x" + "f" * 10, "0xffffffffff", "0x100000000", "0xffffffff", "0x10000", "0xffff",
    "0x0", "0x", "0x01", "0xFFFF", "IN|0x10000", "IN|", "|", "IN||OUT", "EPOLLIN", "in",
    "ET|ONESHOT|EXCLUSIVE", "0x" + "1" + "0" * 5000,
    "inf", "-inf", "nan", "1e999", "1e-99999", "1e-320", "0.0000001", ".5", "5.", "1e",
    "timeout=1e309", "timeout=-1", "timeout=nan", "timeout=" + "9" * 5000, "timeout=0001",
    "timeout=0.001", "timeout=inf", "max=0", "max=" + "9" * 5000, "max=2147483648",
    "max=01", "r=" + ",".join(["a"] * 1100), "w=" + ",".join(["b"] * 1024), "x=",
    "r=,", "r=a,,b", "a:" + "9" * 5000, "a:0x10000", "a:", ":IN", "=", "=>", "=> =>", "#",
    "a" * 300, "é", "\u00a0", "_", "__", "A" * 5000, "HUNG", "EAGAIN", "E" * 300, "-",
    "r=a w=b x=c", "ok", "spawn", "join", "wait", "select", "poll", "linger", "pipesize",
)
#: Values a workload key must refuse or survive (TOML spellings).
HOSTILE_VALUES = (
    "9" * 5000, "1" + "_0" * 5000, "-" + "9" * 5000, "0x" + "f" * 40, "1e999", "-1e999",
    "nan", "inf", "-inf", "1e-99999", "0", "-1", "0.0", "2147483648", "9223372036854775808",
    "-9223372036854775809", "true", "false", '""', '" "', '".."', '"."', '"/"',
    '"../../x"', '"a\\u0000b"', '"a\\nb"', '"\\u2028"', '"' + "n" * 300 + '"', "'..'",
    "[" * 500 + "]" * 500, "{a=" * 300 + "1" + "}" * 300, "[1, 2]", "{}", '"poll"',
    '"epoll"', '"select"', "1979-05-27", "0o777", "0b101", "+1", "1_000", "_1", "01",
)


@dataclass(frozen=True, slots=True)
class Case:
    """One generated input: its number, kind (``mux`` or ``toml``), bytes and how it was made."""

    index: int
    kind: str
    data: bytes
    how: str

    @property
    def name(self) -> str:
        return f"case-{self.index:05d}.{self.kind}"


# -- mutations -----------------------------------------------------------------------


def _flip(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if out:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out), "bytes flipped"


def _insert(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    at = rng.randint(0, len(data))
    chunk = rng.choice(HOSTILE_BYTES)
    return data[:at] + chunk + data[at:], f"inserted {chunk!r}"


def _cut(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    if not data:
        return data, "nothing to cut"
    a = rng.randrange(len(data))
    b = min(len(data), a + rng.randint(1, 40))
    if rng.random() < 0.5:
        return data[:a] + data[b:], f"cut {a}:{b}"
    return data[:b] + data[a:b] * rng.randint(1, 3) + data[b:], f"doubled {a}:{b}"


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", "surrogateescape").split("\n")


def _unlines(lines: list[str]) -> bytes:
    return "\n".join(lines).encode("utf-8", "surrogateescape")


def _code_lines(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]


def _word(rng: random.Random, data: bytes, words: tuple[str, ...]) -> tuple[bytes, str]:
    lines = _lines(data)
    code = _code_lines(lines) or [0]
    i = rng.choice(code)
    parts = lines[i].split(" ")
    j = rng.randrange(len(parts))
    new = rng.choice(words)
    if rng.random() < 0.2:
        parts.insert(j, new)
    else:
        parts[j] = new
    lines[i] = " ".join(parts)
    return _unlines(lines), f"line {i + 1} word {j + 1} -> {new[:20]!r}"


def _join(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    lines = _lines(data)
    code = _code_lines(lines)
    if len(code) < 2:
        return _insert(rng, data)
    i = rng.choice(code[:-1])
    sep = rng.choice(ODD_SEPARATORS)
    lines[i:i + 2] = [lines[i].split(" =>")[0] + sep + lines[i + 1]]
    return _unlines(lines), f"lines {i + 1}-{i + 2} joined by {sep!r}"


def _reshape(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    op = rng.choice(("drop", "double", "swap", "repeat"))
    if op == "drop":
        del lines[i]
    elif op == "double":
        lines.insert(i, lines[i])
    elif op == "swap" and i + 1 < len(lines):
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    else:
        # A line that waits is repeated a few times only: many copies are honest
        # minutes of waiting (budgeted by asked_for), not malformed input.
        waits = "timeout=" in lines[i] or lines[i].lstrip().startswith("sleep")
        lines[i:i + 1] = [lines[i]] * rng.randint(2, 3 if waits else 200)
    return _unlines(lines), f"line {i + 1} {op}"


def _whole_mux(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    shape = rng.choice(("huge line", "huge number", "random bytes", "empty", "bom", "nul",
                        "many names", "crlf mixed", "deep comment", "long statement"))
    if shape == "huge line":
        return b"socketpair a b\nsend a " + b"1" * (1 << 20) + b"\n", shape
    if shape == "huge number":
        return b"socketpair a b\nsend a 1 => " + b"9" * rng.randint(4301, 20000) + b"\n", shape
    if shape == "random bytes":
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 2000))), shape
    if shape == "empty":
        return b"", shape
    if shape == "bom":
        return b"\xef\xbb\xbf" + data, shape
    if shape == "nul":
        return data.replace(b"\n", b"\x00\n", 1), shape
    if shape == "many names":
        return ("socketpair a b\nselect r=" + ",".join(["a"] * rng.randint(1000, 3000)) +
                "\n").encode(), shape
    if shape == "crlf mixed":
        return data.replace(b"\n", b"\r\n", rng.randint(1, 5)).replace(b"\n", b"\r", 1), shape
    if shape == "deep comment":
        return data + b"# " + "\u2028".encode() * 1000 + b"\xff\n", shape
    return b"socketpair a b\npoll " + b" ".join([b"a:IN"] * rng.randint(1, 5000)) + b"\n", shape


def _whole_toml(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    shape = rng.choice(("deep array", "deep table", "huge int", "name", "random bytes",
                        "empty", "huge string"))
    head = b'[workload]\nname = "x"\n'
    if shape == "deep array":
        n = rng.randint(200, 3000)
        return head + b"seed = " + b"[" * n + b"]" * n + b"\n", shape
    if shape == "deep table":
        n = rng.randint(200, 3000)
        return b"x = " + b"{a=" * n + b"1" + b"}" * n + b"\n" + head, shape
    if shape == "huge int":
        return head + b"seed = " + b"9" * rng.randint(4301, 50000) + b"\n", shape
    if shape == "name":
        value = rng.choice(HOSTILE_VALUES)
        return data.replace(b'name = "', b"name = " + value.encode() + b' # "', 1), shape
    if shape == "random bytes":
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 2000))), shape
    if shape == "empty":
        return b"", shape
    return head + b'description = "' + b"d" * (1 << 20) + b'"\n', shape


def _value(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    lines = _lines(data)
    keyed = [i for i, line in enumerate(lines) if "=" in line and not line.startswith("#")]
    if not keyed:
        return _insert(rng, data)
    i = rng.choice(keyed)
    key = lines[i].split("=")[0]
    new = rng.choice(HOSTILE_VALUES)
    lines[i] = f"{key}= {new}"
    return _unlines(lines), f"line {i + 1} value -> {new[:20]!r}"


MUX_MUTATIONS: tuple[tuple[Callable[[random.Random, bytes], tuple[bytes, str]], int], ...] = (
    (_flip, 3), (_insert, 3), (_cut, 2), (lambda r, d: _word(r, d, HOSTILE_WORDS), 6),
    (_join, 3), (_reshape, 2), (_whole_mux, 1),
)
TOML_MUTATIONS: tuple[tuple[Callable[[random.Random, bytes], tuple[bytes, str]], int], ...] = (
    (_flip, 3), (_insert, 3), (_cut, 2), (_value, 6), (_whole_toml, 2),
)

#: The share of cases that are workload files.
TOML_SHARE = 0.15


def case(seed: int, index: int) -> Case:
    """Case ``index`` of the campaign with ``seed``: a function of the two alone."""
    rng = random.Random(f"{seed}:{index}")
    kind = "toml" if rng.random() < TOML_SHARE else "mux"
    sources = SOURCES_TOML if kind == "toml" else SOURCES_MUX
    source = rng.choice(sources)
    data = source.read_bytes()
    table = TOML_MUTATIONS if kind == "toml" else MUX_MUTATIONS
    hows = [source.name]
    for _ in range(1 if rng.random() < 0.7 else 2):
        mutate = rng.choices([m for m, _ in table], [w for _, w in table])[0]
        data, how = mutate(rng, data)
        hows.append(how)
    return Case(index, kind, data, "; ".join(hows))


def cases(seed: int, count: int, start: int = 0) -> Iterator[Case]:
    for index in range(start, start + count):
        yield case(seed, index)


# -- one run, in a worker ---------------------------------------------------------------


def run_one(kind: str, path: str, backend: str, scratch: str,
            budget: float = 50.0) -> dict[str, Any]:
    """Run one case on one backend in this process; what happened, as a dict."""
    from click.testing import CliRunner

    from muxsim.cli import main

    began = time.monotonic()
    if backend == "parse":
        return _parse_only(kind, path, began)
    if backend == "process":
        return _as_a_process(kind, path, began, budget)
    if backend == "explore":
        argv = ["explore", path, "--jobs", "1", "--set", "duration=0.01",
                "--out", os.path.join(scratch, "explore")]
    elif backend == "record":
        argv = ["record", path, "-o", os.path.join(scratch, "recorded.mux")]
    else:
        argv = ["run", path, "--on", backend]
    result = CliRunner().invoke(main, argv)
    output = (result.stdout or "") + (result.stderr or "")
    code = result.exit_code
    crash = ""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        crash = f"{type(result.exception).__name__}: {result.exception}"
        code = 3
    if "Traceback" in output:
        crash = crash or output[output.index("Traceback"):][-600:]
    if backend == "record" and code == 0:
        crash = crash or _recorded_parses(path, os.path.join(scratch, "recorded.mux"))
    if code == 2 and not crash and not _positioned(output, path):
        crash = "exit 2 without FILE:LINE:COL and a hint: " + output[:300]
    return {"code": code, "crash": crash, "seconds": round(time.monotonic() - began, 3)}


def _positioned(output: str, path: str) -> bool:
    """Whether an exit-2 message names the file (or argument) with a line and column, and a hint."""
    import re

    where = re.escape(path) + r":\d+:\d+: |--set:1:\d+: |--sweep:1:\d+: "
    return bool(re.search(where, output)) and "hint:" in output


def _as_a_process(kind: str, path: str, began: float, budget: float) -> dict[str, Any]:
    """``muxsim`` as its own process, in the C locale: what click's runner cannot show
    (a message the terminal's encoding cannot print, a stray thread keeping it alive)."""
    argv = ["explore", path, "--jobs", "1", "--set", "duration=0.01", "--out",
            tempfile.mkdtemp(prefix="malformed-out-")] if kind == "toml" else \
        ["run", "--on", "both", path]
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONIOENCODING": ""}
    try:
        done = subprocess.run([sys.executable, "-m", "muxsim", *argv], cwd=ROOT, env=env,
                              capture_output=True, timeout=budget, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"code": "hang", "crash": f"no exit in {budget:.0f} s", "seconds": budget}
    finally:
        if kind == "toml":
            shutil.rmtree(argv[-1], ignore_errors=True)
    output = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
    crash = output[output.index("Traceback"):][-600:] if "Traceback" in output else ""
    if done.returncode == 2 and not crash and not _positioned(output, path):
        crash = "exit 2 without FILE:LINE:COL and a hint: " + output[:300]
    return {"code": done.returncode, "crash": crash,
            "seconds": round(time.monotonic() - began, 3)}


def _parse_only(kind: str, path: str, began: float) -> dict[str, Any]:
    from muxsim.lang.errors import ScenarioError
    from muxsim.lang.parser import parse_file
    from muxsim.workload.spec import load_workload

    crash = ""
    code = 0
    try:
        if kind == "mux":
            parse_file(path)
        else:
            load_workload(path)
    except ScenarioError as exc:
        code = 2
        if exc.line < 1 or exc.col < 1 or not exc.hint:
            crash = f"unpositioned ScenarioError: {exc.render()[:300]}"
    except Exception as exc:  # anything else is what the campaign is looking for
        code, crash = 3, f"{type(exc).__name__}: {str(exc)[:300]}"
    return {"code": code, "crash": crash, "seconds": round(time.monotonic() - began, 3)}


def _recorded_parses(source: str, recorded: str) -> str:
    """After record exits 0, its output must parse to the statements it was given."""
    from muxsim.lang.errors import ScenarioError
    from muxsim.lang.parser import parse_file

    try:
        before = [s.action for s in parse_file(source).statements]
        after = [s.action for s in parse_file(recorded).statements]
    except ScenarioError as exc:
        return f"record wrote a file that does not parse: {exc.render()[:300]}"
    return "" if before == after else "record changed the statements"


def _worker() -> None:
    """Read one JSON job a line from stdin, answer one JSON result a line on stdout."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # stray prints must not break the protocol
    for line in sys.stdin:
        job = json.loads(line)
        scratch = tempfile.mkdtemp(prefix="malformed-")
        try:
            result = run_one(job["kind"], job["path"], job["backend"], scratch,
                             job["budget"] - 10)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        out.write(json.dumps({**job, **result}) + "\n")


# -- the campaign ---------------------------------------------------------------------


#: One case in this many also runs as a process of its own (``process``).
PROCESS_EVERY = 10


def backends_for(case: Case, backends: tuple[str, ...]) -> list[str]:
    extra = ["process"] if case.index % PROCESS_EVERY == 0 else []
    if case.kind == "toml":
        return ["parse", "explore", *extra]
    return ["parse", *backends, *extra]


class _Worker:
    """A worker process that runs jobs; killed and replaced when a job overruns."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from tests.malformed import _worker; _worker()"],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            stderr=subprocess.DEVNULL, start_new_session=True)
        self.job: dict[str, Any] | None = None
        self.began = 0.0

    def give(self, job: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.job, self.began = job, time.monotonic()
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


def campaign(seed: int, count: int, *, jobs: int = 2, timeout: float = 60.0,
             backends: tuple[str, ...] = ("sim", "real", "record"), start: int = 0,
             directory: str | None = None,
             progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """Generate ``count`` cases, run each on every backend; one result per run.

    A run that takes longer than ``timeout`` seconds is a hang: its worker
    is killed (with every process it started) and replaced.
    """
    own = directory is None
    # A run may take as long as the waits its scenario asks for: 125 copies of
    # "poll a:IN timeout=0.5" are a minute of honest waiting on the kernel.
    # Past the time bound plus those, it is a hang.
    where = Path(directory or tempfile.mkdtemp(prefix="malformed-cases-"))
    where.mkdir(parents=True, exist_ok=True)
    queue: collections.deque[dict[str, Any]] = collections.deque()
    for c in cases(seed, count, start):
        path = where / c.name
        path.write_bytes(c.data)
        for backend in backends_for(c, backends):
            if backend in ("explore", "process") and c.kind == "toml" \
                    and not _small_workload(str(path)):
                continue
            queue.append({"index": c.index, "kind": c.kind, "how": c.how, "path": str(path),
                          "backend": backend,
                          "budget": timeout + (asked_for(str(path)) if c.kind == "mux" else 0)})
    total = len(queue)
    results: list[dict[str, Any]] = []
    workers = [_Worker() for _ in range(max(1, jobs))]
    try:
        while queue or any(w.job is not None for w in workers):
            for w in workers:
                if w.job is None and queue:
                    w.give(queue.popleft())
            busy = {w.proc.stdout: w for w in workers
                    if w.job is not None and w.proc.stdout is not None}
            ready, _, _ = select.select([s for s in busy if s is not None], [], [], 1.0)
            for stream in ready:
                w = busy[stream]
                line = stream.readline()
                if line:
                    results.append(json.loads(line))
                else:  # the worker died: the job crashed it
                    assert w.job is not None
                    results.append({**w.job, "code": 3, "crash": "worker died",
                                    "seconds": round(time.monotonic() - w.began, 3)})
                    w.kill()
                    workers[workers.index(w)] = w = _Worker()
                w.job = None
            for i, w in enumerate(workers):
                if w.job is not None and time.monotonic() - w.began > w.job["budget"]:
                    results.append({**w.job, "code": "hang",
                                    "crash": f"no answer in {w.job['budget']:.0f} s",
                                    "seconds": w.job["budget"]})
                    w.kill()
                    workers[i] = _Worker()
            if progress is not None:
                progress(len(results), total)
    finally:
        for w in workers:
            w.kill()
        if own:
            shutil.rmtree(where, ignore_errors=True)
    return sorted(results, key=lambda r: (r["index"], r["backend"]))


def asked_for(path: str, watchdog: float = 1.0) -> float:
    """Seconds of waiting a scenario asks for: its finite timeouts and sleeps, and the
    watchdog for each wait without a timeout (0 if it does not parse)."""
    from muxsim.lang.errors import ScenarioError
    from muxsim.lang.parser import parse_file
    from muxsim.lang.syntax import Poll, Select, Sleep, Spawn, Wait

    try:
        scenario = parse_file(path)
    except ScenarioError:
        return 0.0
    total = 0.0
    for statement in scenario.statements:
        action = statement.action
        call = action.call if isinstance(action, Spawn) else action
        if isinstance(call, Sleep):
            total += call.seconds
        elif isinstance(call, Wait | Poll | Select):
            total += watchdog if call.timeout == float("inf") else call.timeout
    return total


def _small_workload(path: str) -> bool:
    """Whether a workload parses to something explore runs in a moment (else: parse only)."""
    from muxsim.lang.errors import ScenarioError
    from muxsim.workload.spec import load_workload

    try:
        w = load_workload(path)
    except (ScenarioError, Exception):
        return False
    return w.clients.connections <= 20_000 and w.server.threads <= 16


def summary(results: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Exit codes counted per backend (``hang`` for a run that overran)."""
    table: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for r in results:
        table[r["backend"]][str(r["code"])] += 1
    return {b: dict(sorted(c.items())) for b, c in sorted(table.items())}


def failures(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in results if r["crash"] or r["code"] not in (0, 1, 2)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=int, default=0, help="first case number")
    parser.add_argument("--only", type=int, help="write case I to stdout and stop")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--keep", metavar="DIR", help="keep the generated files in DIR")
    parser.add_argument("--json", metavar="FILE", help="write every result to FILE")
    args = parser.parse_args()
    if args.only is not None:
        c = case(args.seed, args.only)
        print(c.how, file=sys.stderr)
        sys.stdout.buffer.write(c.data)
        return 0
    began = time.monotonic()

    shown = [0]

    def progress(done: int, total: int) -> None:
        if done >= shown[0] + 250 or done == total:
            shown[0] = done
            print(f"{done}/{total} runs", file=sys.stderr, flush=True)

    results = campaign(args.seed, args.count, jobs=args.jobs, timeout=args.timeout,
                       start=args.start, directory=args.keep, progress=progress)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    bad = failures(results)
    kinds = collections.Counter(r["kind"] for r in results if r["backend"] == "parse")
    print(f"{args.count} cases (seed {args.seed}: {kinds['mux']} .mux, {kinds['toml']} .toml), "
          f"{len(results)} runs in {time.monotonic() - began:.0f} s: "
          f"{len(bad)} with a traceback, exit 3 or a hang")
    for backend, counts in summary(results).items():
        print(f"  {backend:<8} " + "  ".join(f"exit {k}: {v}" for k, v in counts.items()))
    for r in bad[:30]:
        print(f"  case {r['index']} ({r['how']}) on {r['backend']}: {r['code']} {r['crash'][:300]}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
