"""Workload files: the shipped ones load, values round-trip, and every mistake is FILE:LINE:COL.

Each bad input names the exact line and column it must point at (the key for
an unknown key, the value for a bad value) and words the message and the
hint must contain, so an error that stops being useful fails here.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, get_args, get_type_hints

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from muxsim.lang.errors import ScenarioError
from muxsim.workload import spec
from muxsim.workload.spec import (
    KEYS,
    Arrivals,
    Clients,
    Key,
    Loop,
    Server,
    Sharing,
    Transport,
    Workload,
    apply_set,
    format_value,
    load_workload,
    parse_sweep,
    parse_workload,
    replace_key,
    workload_to_dict,
)

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "models" / "scenarios").glob("*.toml"))
HEAD = '[workload]\nname = "t"\n'  # a minimal valid start: bad lines go after it
W = Workload(name="t")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def to_toml(tables: dict[str, dict[str, Any]]) -> str:
    """A tiny TOML writer: enough for workload_to_dict's output."""
    lines: list[str] = []
    for section, body in tables.items():
        lines += [f"[{section}]", *(f"{k} = {toml_value(v)}" for k, v in body.items()), ""]
    return "\n".join(lines)


def error_of(text: str, path: str = "w.toml") -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse_workload(text, path)
    return caught.value


# -- the shipped workloads ---------------------------------------------------


def test_the_scenarios_are_shipped() -> None:
    names = {p.stem for p in SCENARIOS}
    assert {"c10k", "c100k", "herd", "herd-exclusive", "et-forgetful"} <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_each_shipped_workload_loads_and_explains_itself(path: Path) -> None:
    workload = load_workload(str(path))
    assert workload.name == path.stem
    assert workload.path == str(path)
    assert path.read_text().startswith("# "), "start with comment lines on what to look for"
    assert "look for" in path.read_text()


def test_the_shipped_workloads_hold_their_documented_numbers() -> None:
    by_name = {p.stem: load_workload(str(p)) for p in SCENARIOS}
    c10k = by_name["c10k"]
    assert (c10k.clients.connections, c10k.clients.active, c10k.clients.rate) == (10000, 0.01, 100)
    assert (c10k.server.loop, c10k.server.threads, c10k.duration) == ("epoll-lt", 1, 1.0)
    assert by_name["c100k"].clients.connections == 100_000
    herd, tamed = by_name["herd"], by_name["herd-exclusive"]
    assert (herd.server.threads, herd.server.sharing, herd.server.exclusive) == (
        8, "epoll-per-thread", False)
    assert (herd.clients.transport, herd.clients.connect_rate, herd.clients.active) == (
        "tcp", 2000, 0)
    assert tamed.server == dataclasses.replace(herd.server, exclusive=True)
    assert (tamed.clients, tamed.duration) == (herd.clients, herd.duration)
    et = by_name["et-forgetful"]
    assert (et.server.loop, et.server.drain, et.server.read_size) == ("epoll-et", False, 4096)
    assert et.clients.request_size > et.server.read_size


# -- the key table is the one source of truth ---------------------------------


def test_keys_match_the_records() -> None:
    for section, record in (("workload", Workload), ("server", Server), ("clients", Clients)):
        fields = [f.name for f in dataclasses.fields(record)
                  if f.name not in ("server", "clients", "path")]
        assert [k.name for k in KEYS.values() if k.section == section] == fields
        hints = get_type_hints(record)
        for name in fields:
            key = KEYS[f"{section}.{name}"]
            choices = get_args(hints[name])
            assert key.choices == choices
            assert key.kind is (str if choices else hints[name])
            assert key.help and key.range_text


@pytest.mark.parametrize("key", list(KEYS.values()), ids=lambda k: k.dotted)
def test_each_default_is_valid(key: Key) -> None:
    value = workload_to_dict(W)[key.section][key.name]
    assert replace_key(W, key.dotted, value) == W


# -- good files ----------------------------------------------------------------


def test_a_minimal_file_gets_every_default() -> None:
    assert parse_workload(HEAD, "m.toml") == Workload(name="t", path="m.toml")


def test_every_key_is_read() -> None:
    text = """
[workload]
name = "all"
description = "every key"
duration = 2.5
seed = 7
[server]
loop = "epoll-et"
threads = 4
sharing = "epoll-per-thread"
exclusive = true
timeout = 0.25
maxevents = 8
drain = false
read_size = 1_024
[clients]
connections = 1e3
active = 1
rate = 5
arrivals = "periodic"
request_size = 10
response_size = 0
transport = "tcp"
connect_rate = 3
"""
    w = parse_workload(text, "all.toml")
    assert w == Workload("all", "every key", 2.5, 7,
                         Server("epoll-et", 4, "epoll-per-thread", True, 0.25, 8, False, 1024),
                         Clients(1000, 1.0, 5.0, "periodic", 10, 0, "tcp", 3.0), "all.toml")
    assert isinstance(w.clients.connections, int) and isinstance(w.clients.rate, float)


def test_crlf_line_endings_read_and_point_the_same() -> None:
    assert parse_workload(HEAD.replace("\n", "\r\n"), "w.toml").name == "t"
    err = error_of((HEAD + "[clients]\n  active  =  2\n").replace("\n", "\r\n"))
    assert (err.line, err.col) == (4, 14)


def test_a_utf8_bom_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + HEAD.encode())
    assert load_workload(str(path)).name == "t"
    assert parse_workload("\ufeff" + HEAD, "x").name == "t"


def test_non_utf8_bytes_point_at_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[workload]\nname = "café"\n'.encode("latin-1"))
    with pytest.raises(ScenarioError) as caught:
        load_workload(str(path))
    err = caught.value
    assert (err.path, err.line, err.col) == (str(path), 2, 12)
    assert "not UTF-8" in err.message and "0xe9" in err.message and "UTF-8" in err.hint


@pytest.mark.parametrize("make", [lambda d: d / "missing.toml", lambda d: d,
                                  lambda d: Path("/dev/zero"), lambda d: _fifo(d)],
                         ids=["missing", "directory", "/dev/zero", "FIFO"])
def test_an_unreadable_path_is_a_scenario_error(tmp_path: Path, make: Any) -> None:
    # /dev/zero was read until MemoryError, and a FIFO hung in open(2) (issue 11, item 7):
    # both are refused unread.
    with pytest.raises(ScenarioError) as caught:
        load_workload(str(make(tmp_path)))
    assert (caught.value.line, caught.value.col) == (1, 1)
    assert "cannot read" in caught.value.message and "models/scenarios" in caught.value.hint


def _fifo(directory: Path) -> Path:
    import os

    path = directory / "w.toml"
    os.mkfifo(path)
    return path


def test_a_multiline_description_hides_nothing() -> None:
    # A line inside a multi-line string that looks like a key must not steal positions.
    text = ('[workload]\nname = "t"\ndescription = """\n[clients]\nactive = 1\n"""\n'
            "[clients]\nactive = 7\n")
    assert (error_of(text).line, error_of(text).col) == (8, 10)


# -- bad files: exact line and column, useful message and hint ---------------

BAD = [
    # (id, text, line, col, words in the message, words in the hint)
    ("misspelt key", HEAD + "[clients]\nconections = 5\n", 4, 1,
     "unknown key 'conections' in [clients]", "did you mean 'connections'?"),
    ("key in the wrong table", HEAD + "[clients]\nthreads = 4\n", 4, 1,
     "unknown key 'threads'", "belongs in [server]"),
    ("unknown key, nothing close", HEAD + "[server]\nzzz = 1\n", 4, 1,
     "unknown key 'zzz'", "[server] keys are loop, threads"),
    ("indented key", HEAD + "[server]\n    thredas = 2\n", 4, 5, "unknown key", "'threads'"),
    ("misspelt table", HEAD + "[sever]\nthreads = 2\n", 3, 2, "unknown table [sever]",
     "did you mean [server]?"),
    ("key outside any table", 'name = "t"\n', 1, 1, "outside any table", "under [workload]"),
    ("table written as a key", HEAD + "server = 4\n", 3, 1, "unknown key 'server' in [workload]",
     "[server] is a table of its own"),
    ("top-level value for a table", "server = 4\n" + HEAD, 1, 1, "must be a table", "[server]"),
    ("no name", "[workload]\nseed = 3\n", 1, 2, "no name", 'name = "c10k"'),
    ("no workload at all", "[server]\nthreads = 2\n", 1, 1, "no name", "[workload]"),
    ("empty name", '[workload]\nname = ""\n', 2, 8, "must not be empty", "name ="),
    ("name not a string", "[workload]\nname = 5\n", 2, 8, "must be a string", '"5"'),
    ("out of range", HEAD + "[clients]\nactive = 1.5\n", 4, 10,
     "clients.active must be between 0 and 1, got 1.5", "fraction of the connections"),
    ("zero rate", HEAD + "[clients]\nrate = 0\n", 4, 8,
     "greater than 0 and at most 1000000, got 0", "requests/s"),
    ("bad timeout", HEAD + "[server]\ntimeout = -2\n", 4, 11, "-1, or between 0 and 3600",
     "-1 blocks, 0 busy-polls"),
    ("too long", HEAD + "duration = 7200\n", 3, 12, "workload.duration", "at most 3600"),
    ("infinite", HEAD + "duration = inf\n", 3, 12, "got inf", "virtual seconds"),
    ("not a whole number", HEAD + "[server]\nthreads = 2.5\n", 4, 11,
     "server.threads must be a whole number, got 2.5", "between 1 and 256"),
    ("a string for a number", HEAD + '[clients]\nconnections = "many"\n', 4, 15,
     'must be a number, got "many"', "between 1 and 1000000"),
    ("a bool for a number", HEAD + "[clients]\nconnections = true\n", 4, 15,
     "must be a number, got true", "connections"),
    ("too many threads", HEAD + "[server]\nthreads = 1000\n", 4, 11, "between 1 and 256", ""),
    ("response too big", HEAD + "[clients]\nresponse_size = 1e12\n", 4, 17, "response_size",
     "256 MiB"),
    ("quoted bool", HEAD + '[server]\ndrain = "yes"\n', 4, 9,
     'server.drain must be true or false, got "yes"', "without quotes"),
    ("bare epoll", HEAD + '[server]\nloop = "epoll"\n', 4, 8, 'unknown server.loop "epoll"',
     "did you mean 'epoll-lt' (level-triggered), 'epoll-et' or 'epoll-oneshot'?"),
    ("choice, close", HEAD + '[server]\nloop = "pol"\n', 4, 8, "unknown server.loop",
     "did you mean 'poll'? loop is one of select, poll, epoll-lt, epoll-et, epoll-oneshot"),
    ("choice, far", HEAD + '[clients]\ntransport = "udp"\n', 4, 13, "unknown clients.transport",
     "transport is one of unix, tcp"),
    ("choice, wrong case", HEAD + '[clients]\narrivals = "Poisson"\n', 4, 12, "arrivals",
     "did you mean 'poisson'?"),
    ("unquoted string", HEAD + "[server]\nloop = epoll-lt\n", 4, 8, "TOML syntax: Invalid value",
     "strings need quotes"),
    ("unterminated string", '[workload]\nname = "t\n', 2, 10, "TOML syntax", "quoting"),
    ("unclosed header", HEAD + "[server", 3, 8, "TOML syntax", "brackets"),
    ("table twice", HEAD + "[workload]\n", 3, 10, "TOML syntax", "docs/explore.md"),
    ("key twice", HEAD + 'name = "u"\n', 3, 11, "TOML syntax", "check quoting"),
    ("inline table, bad value", "server = { threads = 0 }\n" + HEAD, 1, 1, "between 1 and 256",
     ""),
    ("select, too many", HEAD + '[server]\nloop = "select"\n[clients]\nconnections = 1000\n',
     6, 1, "FD_SETSIZE (1024): at most 900 connections, got 1000", "use poll or epoll"),
    ("select, connections first", HEAD + '[clients]\nconnections = 901\n[server]\n'
     'loop = "select"\n', 4, 1, "at most 900 connections, got 901", "poll"),
    ("per-thread needs epoll", HEAD + '[server]\nloop = "poll"\nsharing = "epoll-per-thread"\n',
     5, 1, "needs an epoll loop", 'loop = "epoll-lt"'),
    ("exclusive needs epoll", HEAD + '[server]\nloop = "poll"\nexclusive = true\n', 5, 1,
     "exclusive = true needs an epoll loop", "EPOLLEXCLUSIVE"),
    ("exclusive needs per-thread", HEAD + "[server]\nexclusive = true\n", 4, 1,
     'needs sharing = "epoll-per-thread"', "one shared epoll"),
    ("exclusive needs a listener", HEAD +
     '[server]\nsharing = "epoll-per-thread"\nexclusive = true\n', 5, 1, "needs a listener",
     "connect_rate"),
    ("listener needs tcp", HEAD + "[clients]\nconnect_rate = 10\n", 4, 1,
     'connect_rate > 0 needs transport = "tcp"', 'transport = "tcp"'),
    ("nobody active", HEAD + "[clients]\nconnections = 50\n", 4, 1,
     "no connection is active: active * connections = 0.01 * 50 = 0.5",
     "raise active or connections"),
    ("nobody active, written nowhere", HEAD + "[clients]\nrate = 5\nactive = 0\n", 5, 1,
     "no connection is active", "connect_rate"),
    # A name is the default output directory (issue 11, item 6).
    ("name ..", '[workload]\nname = ".."\n', 2, 8, 'name ".." names a directory',
     "reports/explore/<name>"),
    ("name .", '[workload]\nname = "."\n', 2, 8, "names a directory", "letters, digits"),
    ("name with /", '[workload]\nname = "../../etc"\n', 2, 8, 'may not hold "/"',
     "path separator"),
    ("name with NUL", '[workload]\nname = "a\\u0000b"\n', 2, 8, "U+0000", "control character"),
    ("name with a line break", '[workload]\nname = "a\\nb"\n', 2, 8, "U+000A", "line break"),
    ("empty name", '[workload]\nname = " "\n', 2, 8, "must not be empty", "c10k"),
    ("name too long", '[workload]\nname = "' + "n" * 256 + '"\n', 2, 8, "too long: 256 bytes",
     "NAME_MAX"),
    # Numbers tomllib cannot hold, and nesting it cannot follow (issue 11, item 7).
    ("5,000-digit number", HEAD + "seed = " + "9" * 5000 + "\n", 3, 8, "more than 4,300 digits",
     "key's range"),
    ("5,000-digit number with underscores", HEAD + "[clients]\nconnections = 1" + "_0" * 5000
     + "\n", 4, 15, "more than 4,300 digits", ""),
    ("just too large", HEAD + "seed = 9223372036854775808\n", 3, 8,
     "between 0 and 9223372036854775807", ""),
    ("arrays 500 deep", HEAD + "seed = " + "[" * 500 + "]" * 500 + "\n", 3, 108,
     "nested too deeply", "no key takes an array"),
    ("inline tables 500 deep", "x = " + "{a=" * 500 + "1" + "}" * 500 + "\n" + HEAD, 1, 305,
     "nested too deeply", ""),
    ("deep, brackets in strings skipped", '[workload]\nname = "[[[\\"[["\nseed = '
     + "[" * 500 + "\n", 3, 108, "nested too deeply", ""),
]


@pytest.mark.parametrize(("text", "line", "col", "message", "hint"),
                         [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_file(text: str, line: int, col: int, message: str, hint: str) -> None:
    err = error_of(text)
    assert (err.path, err.line, err.col) == ("w.toml", line, col), err.render()
    assert message in err.message, err.render()
    assert hint in err.hint, err.render()
    assert err.render().startswith(f"w.toml:{line}:{col}: ")


def test_a_rule_whose_keys_the_scan_cannot_find_points_at_line_1() -> None:
    # An inline table hides its keys from the line scan: fall back to 1:1.
    err = error_of("clients = { connections = 50 }\n" + HEAD)
    assert (err.line, err.col) == (1, 1) and "no connection is active" in err.message


# -- --set ---------------------------------------------------------------------

SET_GOOD = [
    ("connections=5000", "clients.connections", 5000),
    ("clients.connections=5000", "clients.connections", 5000),
    ("connections=1e4", "clients.connections", 10000),
    ("connections=1_000", "clients.connections", 1000),
    (" connections = 7 ", "clients.connections", 7),
    ("active=0.5", "clients.active", 0.5),
    ("rate=3", "clients.rate", 3.0),
    ("loop=poll", "server.loop", "poll"),
    ('loop="epoll-et"', "server.loop", "epoll-et"),
    ("drain=false", "server.drain", False),
    ("workload.duration=3", "workload.duration", 3.0),
    ("name=42", "workload.name", "42"),
    ('description="a = b"', "workload.description", "a = b"),
    ("description=two words", "workload.description", "two words"),
    ("timeout=-1", "server.timeout", -1.0),
]


@pytest.mark.parametrize(("assignment", "dotted", "value"), SET_GOOD)
def test_set(assignment: str, dotted: str, value: Any) -> None:
    section, name = dotted.split(".")
    got = workload_to_dict(apply_set(W, assignment))[section][name]
    assert got == value and type(got) is type(value)


SET_BAD = [
    # (assignment, col, words in the message, words in the hint)
    ("connections", 1, "missing '='", "use key=value, e.g. connections=5000"),
    ("=5", 1, "no key before '='", "key=value"),
    ("loop=", 6, "no value after '='", "key=value"),
    ("conections=5", 1, "unknown key 'conections'", "did you mean 'connections'?"),
    ("server.thread=3", 1, "unknown key 'server.thread'", "did you mean 'server.threads'?"),
    ("path=x", 1, "unknown key 'path'", "workload.name"),
    ("connections=0", 13, "between 1 and 1000000, got 0", "connections"),
    ("  connections = abc", 17, 'must be a number, got "abc"', ""),
    ("threads=2.5", 9, "whole number, got 2.5", "between 1 and 256"),
    ("exclusive=yes", 11, 'must be true or false, got "yes"', "without quotes"),
    ("loop=epoll", 6, 'unknown server.loop "epoll"', "did you mean 'epoll-lt' (level-triggered)"),
    ("rate=inf", 6, "got inf", "requests/s"),
    ("connections=[1, 2]", 13, "must be a number", ""),
    ('name=""', 6, "must not be empty", ""),
    ("name=..", 6, "names a directory", "reports/explore"),
    ("name=a/b", 6, 'may not hold "/"', ""),
    ("seed=" + "9" * 5000, 6, "more than 4,300 digits", ""),
    ("seed=" + "[" * 500, 106, "nested too deeply", ""),
    ("seed=" + "9" * 4000, 6, "between 0 and", ""),
]


@pytest.mark.parametrize(("assignment", "col", "message", "hint"), SET_BAD)
def test_set_errors_point_into_the_assignment(assignment: str, col: int, message: str,
                                              hint: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        apply_set(W, assignment)
    err = caught.value
    assert (err.path, err.line, err.col) == ("--set", 1, col), err.render()
    assert message in err.message and hint in err.hint, err.render()


def test_an_ambiguous_bare_key_lists_the_dotted_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    # No bare key is ambiguous today; a future one must be refused, not guessed.
    monkeypatch.setitem(KEYS, "server.rate", Key("server", "rate", float, "x", 0, 1))
    with pytest.raises(ScenarioError) as caught:
        apply_set(W, "rate=1")
    assert "more than one table" in caught.value.message
    assert caught.value.hint == "write clients.rate or server.rate"


def test_apply_set_names_its_source() -> None:
    with pytest.raises(ScenarioError) as caught:
        apply_set(W, "threads=0", where="--grid")
    assert caught.value.path == "--grid"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "w.toml"
    path.write_text(text)
    return str(path)


def test_overrides_are_checked_together_after_the_last(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + "[clients]\nconnections = 5000\n")
    # select alone would break the FD_SETSIZE rule; the next override mends it.
    w = load_workload(path, ["loop=select", "connections=500"])
    assert (w.server.loop, w.clients.connections) == ("select", 500)


def test_a_rule_broken_by_an_override_points_at_the_override(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + "[clients]\nconnections = 5000\n")
    with pytest.raises(ScenarioError) as caught:
        load_workload(path, ["drain=false", "loop=select"])
    err = caught.value
    assert (err.path, err.line, err.col) == ("--set", 1, 1)
    assert "FD_SETSIZE" in err.message


def test_an_override_can_mend_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + '[server]\nloop = "select"\n[clients]\nconnections = 5000\n')
    assert load_workload(path, ["loop=poll"]).server.loop == "poll"
    with pytest.raises(ScenarioError) as caught:
        load_workload(path)
    assert (caught.value.line, caught.value.col) == (6, 1)


def test_a_rule_an_override_did_not_touch_points_into_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + "[clients]\nconnect_rate = 5\n")
    with pytest.raises(ScenarioError) as caught:
        load_workload(path, ["threads=2"])
    assert (caught.value.path, caught.value.line, caught.value.col) == (path, 4, 1)


# -- --sweep -------------------------------------------------------------------

SWEEP_GOOD = [
    ("connections=100..500", "clients.connections", [100, 200, 300, 400, 500]),
    ("connections=100..1000:4", "clients.connections", [100, 400, 700, 1000]),
    ("connections=1000..100:4", "clients.connections", [1000, 700, 400, 100]),
    ("threads=1..3:5", "server.threads", [1, 2, 3]),  # rounded, then deduplicated
    ("server.threads=1..4:3", "server.threads", [1, 3, 4]),  # 2.5 rounds half up
    ("active=0.1..0.3:3", "clients.active", [0.1, 0.2, 0.3]),
    ("duration=1e-3..2e-3:2", "workload.duration", [0.001, 0.002]),
    ("loop=poll,epoll-lt,epoll-et", "server.loop", ["poll", "epoll-lt", "epoll-et"]),
    ("drain=true, false", "server.drain", [True, False]),
    ("seed=1,2,3", "workload.seed", [1, 2, 3]),
    ("rate=5", "clients.rate", [5.0]),
    ("seed=0..9223372036854775807:2", "workload.seed", [0, 2**63 - 1]),
]


@pytest.mark.parametrize(("text", "dotted", "values"), SWEEP_GOOD)
def test_sweep(text: str, dotted: str, values: list[Any]) -> None:
    key, got = parse_sweep(text, W)
    assert (key, got) == (dotted, values)
    assert [type(v) for v in got] == [type(v) for v in values]
    for v in got:
        replace_key(W, key, v)


SWEEP_BAD = [
    # (text, col, words in the message, words in the hint)
    ("connections=0..10", 13, "between 1 and 1000000, got 0", ""),
    ("connections=10..0", 17, "got 0", ""),
    ("connections", 1, "missing '='", "connections=1000..10000:4"),
    ("conection=1..2", 1, "unknown key", "did you mean 'connections'?"),
    ("connections=1..10:1", 19, "bad number of points '1'", "n from 2 to 1000"),
    ("connections=1..10:x", 19, "bad number of points", "connections=1..10:10"),
    ("connections=1..10:1001", 19, "bad number of points", ""),
    ("connections=1..10:" + "9" * 5000, 19, "bad number of points", ""),
    ("connections=1..10:\u00b2", 19, "bad number of points", ""),
    ("connections=1.." + "9" * 5000, 16, "more than 4,300 digits", ""),
    ("seed=1," + "9" * 5000, 8, "more than 4,300 digits", ""),
    ("connections=..10", 13, "needs a start and an end", "a..b"),
    ("connections=1..", 16, "needs a start and an end", ""),
    ("connections=1,,3", 15, "empty value in the list", "single commas"),
    ("connections=1,2,", 17, "empty value", ""),
    ("threads=1..2.5", 12, "whole number, got 2.5", ""),
    ("loop=poll..select", 6, "a range needs a numeric key", "list the values, e.g. loop=select,"),
    ("drain=false..true", 7, "range needs a numeric key", "drain=false,true"),
    ("loop=poll, epoll", 12, 'unknown server.loop "epoll"', "'epoll-lt' (level-triggered)"),
    ("name=a,b", 1, "cannot sweep workload.name", "loop=poll,epoll-lt"),
    ("description=a,b", 1, "cannot sweep workload.description", ""),
    ("connections=100,2000", 17, "at connections=2000: select watches only", "poll or epoll"),
    ("connections=10..100:3", 13, "at connections=10: no connection is active", ""),
    ("exclusive=false,true", 17, "at exclusive=true: exclusive = true needs an epoll loop", ""),
]


@pytest.mark.parametrize(("text", "col", "message", "hint"), SWEEP_BAD)
def test_sweep_errors_fail_at_once_and_point_into_the_spec(text: str, col: int, message: str,
                                                           hint: str) -> None:
    select = replace_key(W, "server.loop", "select")
    with pytest.raises(ScenarioError) as caught:
        parse_sweep(text, select)
    err = caught.value
    assert (err.path, err.line, err.col) == ("--sweep", 1, col), err.render()
    assert message in err.message and hint in err.hint, err.render()


def test_replace_key_checks_values_and_rules() -> None:
    assert replace_key(W, "clients.connections", 700).clients.connections == 700
    with pytest.raises(ScenarioError, match="between 1 and 1000000"):
        replace_key(W, "clients.connections", 0)
    with pytest.raises(ScenarioError, match="no connection is active"):
        replace_key(W, "clients.connections", 10)
    with pytest.raises(ScenarioError, match="unknown key"):
        replace_key(W, "clients.nope", 1)


# -- output ----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "shown"), [
    (True, "true"), (False, "false"), (10000, "10000"), (1e6, "1000000"), (0.01, "0.01"),
    (-1.0, "-1"), ("epoll-lt", "epoll-lt"), (1e20, "1e+20"), (0.1 + 0.2, "0.30000000000000004"),
])
def test_format_value(value: Any, shown: str) -> None:
    assert format_value(value) == shown


def test_workload_to_dict_is_json_and_nested_by_table() -> None:
    tables = workload_to_dict(load_workload(str(SCENARIOS[0])))
    assert list(tables) == ["workload", "server", "clients"]
    assert json.loads(json.dumps(tables)) == tables
    assert "path" not in tables["workload"]


# -- round trips -----------------------------------------------------------------

# A name is a directory name too: no "/", no line breaks, not "." or ".." (issue 11, item 6).
names = st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"), exclude_characters="/"),
                min_size=1, max_size=60).filter(lambda n: n.strip() and n not in (".", ".."))


@st.composite
def workloads(draw: st.DrawFn) -> Workload:
    loop = draw(st.sampled_from(get_args(Loop)))
    epoll = loop.startswith("epoll")
    sharing: Sharing = draw(st.sampled_from(get_args(Sharing))) if epoll else "shared-epoll"
    transport = draw(st.sampled_from(get_args(Transport)))
    connect_rate = draw(st.floats(0, 1e6)) if transport == "tcp" else 0.0
    listener = connect_rate > 0
    connections = draw(st.integers(1, 900 if loop == "select" else 1_000_000))
    active = draw(st.floats(0, 1))
    assume(listener or active * connections >= 1)
    return Workload(
        name=draw(names), description=draw(st.text(st.characters(
            exclude_categories=("Cc", "Cs")))),
        duration=draw(st.floats(0, 3600, exclude_min=True)), seed=draw(st.integers(0, 2**63 - 1)),
        server=Server(loop, draw(st.integers(1, 256)), sharing,
                      draw(st.booleans()) if sharing == "epoll-per-thread" and listener
                      and loop != "epoll-oneshot" else False,
                      draw(st.just(-1.0) | st.floats(0, 3600)), draw(st.integers(1, 1_000_000)),
                      draw(st.booleans()), draw(st.integers(1, 16 << 20))),
        clients=Clients(connections, active, draw(st.floats(0, 1e6, exclude_min=True)),
                        draw(st.sampled_from(get_args(Arrivals))), draw(st.integers(1, 16 << 20)),
                        draw(st.integers(0, 256 << 20)), transport, connect_rate),
        path="h.toml")


@given(workloads())
def test_any_valid_workload_written_out_reads_back_the_same(workload: Workload) -> None:
    assert parse_workload(to_toml(workload_to_dict(workload)), "h.toml") == workload


@given(workloads(), st.sampled_from([k for k in KEYS.values() if k.section != "workload"
                                     or k.name in ("duration", "seed")]))
def test_any_value_as_shown_can_be_set_back(workload: Workload, key: Key) -> None:
    value = workload_to_dict(workload)[key.section][key.name]
    assert apply_set(workload, f"{key.name}={format_value(value)}") == workload


def test_the_module_imports_only_the_stdlib_and_the_language() -> None:
    import ast
    import sys

    tree = ast.parse(Path(spec.__file__).read_text())
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    outside = {m for m in imported if m.split(".")[0] not in sys.stdlib_module_names
               and m != "__future__" and m not in ("muxsim.lang.errors", "muxsim.lang.inputs")}
    assert not outside


def test_exclusive_with_oneshot_is_refused_as_the_kernel_refuses_it() -> None:
    """fs/eventpoll.c: EPOLLEXCLUSIVE_OK_BITS has no EPOLLONESHOT (EINVAL at ADD)."""
    text = ('[workload]\nname = "x"\n[server]\nloop = "epoll-oneshot"\nthreads = 2\n'
            'sharing = "epoll-per-thread"\nexclusive = true\n'
            '[clients]\ntransport = "tcp"\nconnect_rate = 10.0\n')
    with pytest.raises(ScenarioError) as caught:
        parse_workload(text, "x.toml")
    assert (caught.value.line, caught.value.col) == (7, 1)
    assert "EPOLLONESHOT" in caught.value.hint
