"""One test per parse error: each says FILE:LINE:COL, what is wrong, and a hint."""

from __future__ import annotations

import pytest

from muxsim.lang import ScenarioError, parse

CASES = [
    # (name, source, line, col, words the message must contain, words the hint must contain)
    ("unknown statement", "sockpair a b", 1, 1, "unknown statement", "socketpair"),
    ("unknown, no close match", "frobnicate", 1, 1, "unknown statement", "statements are"),
    ("missing argument", "socketpair a", 1, 13, "missing B", "socketpair A B"),
    ("extra argument", "pipe r w x", 1, 10, "unexpected 'x'", "pipe R W"),
    ("bad name", "epoll 9e", 1, 7, "not a valid name", "[A-Za-z_]"),
    ("undefined name", "socketpair a b\nsend c 1", 2, 6, "'c' is not defined", "create it"),
    ("undefined name, close match", "socketpair abc b\nsend abd 1", 2, 6, "not defined",
     "did you mean abc"),
    ("bad socket kind", "socket x sctp", 1, 10, "kind must be one of", "tcp|unix|udp"),
    ("bad pair kind", "socketpair a b seqpacket", 1, 16, "kind must be one of", "stream|dgram"),
    ("bad count", "socketpair a b\nsend a ten", 2, 8, "whole number", "send X N"),
    ("negative count", "socketpair a b\nrecv a -1", 2, 8, "whole number", "recv X N"),
    ("bad shutdown how", "socketpair a b\nshutdown a both", 2, 12, "how must be one of",
     "rd|wr|rdwr"),
    ("bad option", "socketpair a b\nset a nodelay 1", 2, 7, "OPTION must be one of", "sndbuf"),
    ("bad option value", "socketpair a b\nset a sndbuf big", 2, 14, "whole number", "set X"),
    ("bad ctl op", "epoll e\nsocketpair a b\nctl e insert a IN", 3, 7, "operation must be",
     "add|mod|del"),
    ("bad mask name", "epoll e\nsocketpair a b\nctl e add a IN|EDGE", 3, 16,
     "unknown mask name 'EDGE'", "mask names are"),
    ("lower-case mask", "epoll e\nsocketpair a b\nctl e add a in", 3, 13, "unknown mask name",
     "did you mean IN"),
    ("prefixed mask", "epoll e\nsocketpair a b\nctl e add a EPOLLIN", 3, 13, "unknown mask name",
     "without the prefix"),
    ("empty mask part", "socketpair a b\npoll a:IN|", 2, 11, "unknown mask name", "mask names"),
    ("poll item without mask", "socketpair a b\npoll a", 2, 6, "is not X:MASK", "NAME:MASK"),
    ("poll without items", "poll timeout=1", 1, 6, "no descriptor to poll", "poll X:MASK"),
    ("bad timeout", "epoll e\nwait e timeout=soon", 2, 16, "bad number of seconds", "or inf"),
    ("unknown wait option", "epoll e\nwait e maxevents=3", 2, 8, "unexpected", "wait E"),
    ("option twice", "epoll e\nwait e max=1 max=2", 2, 14, "given twice", "at most once"),
    ("max zero", "epoll e\nwait e max=0", 2, 8, "at least 1", "EINVAL"),
    ("select set undefined", "socketpair a b\nselect r=a,zz", 2, 12, "'zz' is not defined",
     "create it"),
    ("sleep inf", "sleep inf", 1, 7, "bad number of seconds", "0.5"),
    ("sleep too long", "sleep 1e309", 1, 7, "too many seconds", "really waits"),
    ("timeout too long", "socketpair a b\npoll a:IN timeout=7200", 2, 19, "too many seconds",
     "write inf"),
    ("count too large", "socketpair a b\nsend a 99999999999999999999", 2, 8, "too large",
     "256 MiB"),
    ("value beyond int", "socketpair a b\nset a sndbuf 4294967296", 2, 14, "does not fit a C int",
     "2147483647"),
    ("max beyond int", "epoll e\nwait e max=4294967296", 2, 8, "does not fit a C int",
     "EP_MAX_EVENTS"),
    # Numbers the language cannot hold (issue 11, item 7): digits are counted before
    # int() reads them, so 5,000 digits is a positioned error, not CPython's ValueError.
    ("5,000-digit count", "socketpair a b\nsend a " + "9" * 5000, 2, 8, "too large", "256 MiB"),
    ("5,000-digit set value", "socketpair a b\nset a linger " + "9" * 5000, 2, 14,
     "does not fit a C int", "l_linger"),
    ("5,000-digit max", "epoll e\nwait e max=" + "9" * 5000, 2, 8, "does not fit a C int",
     "EP_MAX_EVENTS"),
    ("5,000-digit outcome", "socketpair a b\nsend a 1 => " + "9" * 5000, 2, 13, "too large",
     "SSIZE_MAX"),
    ("5,000 leading zeros", "socketpair a b\nsend a " + "0" * 5000 + "1", 2, 8,
     "leading zero", "write 1"),
    ("leading zero count", "socketpair a b\nsend a 010", 2, 8, "leading zero", "octal"),
    ("leading zero set", "socketpair a b\nset a sndbuf -08", 2, 14, "leading zero", "write -8"),
    ("leading zero max", "epoll e\nwait e max=01", 2, 12, "leading zero", "write 1"),
    ("leading zero outcome", "socketpair a b\nsend a 1 => 01", 2, 13, "leading zero",
     "write 1"),
    ("leading zero seconds", "sleep 00.5", 1, 7, "bad number of seconds", "leading zeros"),
    ("40-bit epoll mask", "epoll e\nsocketpair a b\nctl e add a IN|0xffffffffff", 3, 16,
     "wider than 32 bits", "0xffffffff"),
    ("17-bit poll mask", "socketpair a b\npoll a:0x10000", 2, 8, "wider than 16 bits",
     "short events"),
    ("5,000-digit hex mask", "epoll e\nsocketpair a b\nctl e add a 0x1" + "0" * 5000, 3, 13,
     "wider than 32 bits", "__u32"),
    ("hex mask leading zero", "epoll e\nsocketpair a b\nctl e add a 0x01", 3, 13,
     "leading zero", "0x1"),
    ("40-bit mask in outcome", "socketpair a b\npoll a:IN => a 0x10000000000", 2, 16,
     "wider than 32 bits", "0xffffffff"),
    # Lines end at \n only; other characters outside a comment are refused where they stand
    # (issue 11, item 10).
    ("form feed joins no lines", "pipe r w\fsend w 1", 1, 10, "unexpected 'send'", "pipe R W"),
    ("next line", "pipe r w\nsend w 1\x85recv r 1", 2, 9, "U+0085 (NEXT LINE)", "lines end"),
    ("line separator", "pipe r w\u2028send w 1", 1, 9, "U+2028 (LINE SEPARATOR)", "\\n"),
    ("paragraph separator", "pipe r w\u2029", 1, 9, "U+2029", "lines end"),
    ("information separator", "pipe r w\x1csend w 1", 1, 9, "U+001C", "lines end"),
    ("lone carriage return", "pipe r w\rsend w 1", 1, 9, "U+000D", "\\r\\n"),
    ("NUL", "pipe r\x00 w", 1, 7, "U+0000", "ASCII"),
    ("no-break space", "pipe\xa0r w", 1, 5, "U+00A0", "ASCII"),
    ("spawn non-waiting", "socketpair a b\nspawn t send a 1", 2, 9, "must run wait, poll or select",
     "spawn T"),
    ("spawn twice", "epoll e\nspawn t wait e\nspawn t wait e", 3, 7, "already running",
     "join t"),
    ("join unknown", "join t", 1, 6, "no running waiter", "spawn T"),
    ("join twice", "epoll e\nspawn t wait e\njoin t\njoin t", 4, 6, "no running waiter",
     "joined already"),
    ("spawn expectation", "epoll e\nspawn t wait e => e IN", 2, 19, "spawn's own outcome",
     "join t"),
    ("arrow without statement", "=> ok", 1, 1, "without a statement", "statement first"),
    ("empty expectation", "socketpair a b =>", 1, 18, "missing outcome", "an outcome is"),
    ("bad ready entry", "socketpair a b\npoll a:IN => a", 2, 14, "bad ready-list entry",
     "NAME MASK"),
    ("bad mask in outcome", "socketpair a b\npoll a:IN => a READ", 2, 16, "unknown mask name",
     "mask names"),
    ("bad select outcome", "socketpair a b\nselect r=a => r=a q=b", 2, 19, "bad select set",
     "r=a,b"),
    ("select set twice in outcome", "socketpair a b\nselect r=a => r=a r=b", 2, 19,
     "given twice", "at most once"),
]


@pytest.mark.parametrize(("source", "line", "col", "message", "hint"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parse_error(source: str, line: int, col: int, message: str, hint: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse(source, "case.mux")
    err = info.value
    assert (err.path, err.line, err.col) == ("case.mux", line, col), err.render()
    assert message in err.message, err.render()
    assert hint in err.hint, err.render()
    assert err.render().startswith(f"case.mux:{line}:{col}: ")


def test_unreadable_file_is_a_scenario_error(tmp_path: object) -> None:
    from pathlib import Path

    from muxsim.lang import parse_file

    path = Path(str(tmp_path)) / "bad.mux"
    path.write_bytes(b"socketpair a b\n\xff\xfe\n")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        parse_file(str(path))
    with pytest.raises(ScenarioError, match="cannot read"):
        parse_file(str(path) + ".missing")


@pytest.mark.parametrize("source", [
    "pipe r w\n\f\nsend w 1 => 1\n",        # a form feed on a line of its own
    "pipe r w\f\vsend_more\n".replace("send_more", "# comment"),
    "pipe r w  # U+2028 \u2028 and NEL \x85 in a comment are text\n",
    "\ufeffpipe r w\r\nsend w 1 => 1\r\n",   # byte-order mark, CRLF
    "pipe r w\nsend w 1 => 1\r",             # a CR at the very end
])
def test_blanks_and_comments_that_parse(source: str) -> None:
    scenario = parse(source, "ok.mux")
    assert type(scenario.statements[0].action).__name__ == "Pipe"


def test_a_line_is_the_same_for_parser_and_writer() -> None:
    """record rewrites line N where the parser read line N (str.splitlines disagreed)."""
    from muxsim.lang.outcomes import Number, Ok
    from muxsim.lang.record import fill_expectations

    text = "pipe r w\n\f\nsend w 1\f# a \u2028 b\n\v\r\nrecv r 1\r\n"
    lines = {s.where.line for s in parse(text, "f.mux").statements}
    assert lines == {1, 3, 5}
    filled = fill_expectations(text, {1: Ok(), 3: Number(1), 5: Number(1)})
    assert filled == ("pipe r w => ok\n\f\nsend w 1 => 1  # a \u2028 b\n\v\r\n"
                      "recv r 1 => 1\r\n")
    assert [s.action for s in parse(filled, "f.mux").statements] == \
        [s.action for s in parse(text, "f.mux").statements]


def test_widest_values_still_parse() -> None:
    """The limits are the kernel's: the extreme values themselves are accepted."""
    scenario = parse("socketpair a b\nsend a 268435456\nset a sndbuf -2147483648\n"
                     "set a linger 2147483647\nepoll e\nwait e max=2147483647\n"
                     "ctl e add a 0xffffffff\npoll a:0xffff\n"
                     "select r=" + ",".join(["a"] * 1100) + "\n"
                     "send a 1 => 9223372036854775807\n", "ok.mux")
    assert len(scenario.statements) == 10


def test_more_waiters_than_the_language_allows_is_refused_where_the_spawn_stands() -> None:
    """The real backend refused the 4,097th waiter only when it got there (87 s in), while
    the model ran the file: the bound belongs to the language, checked when parsing."""
    from muxsim.lang.parser import MAX_WAITERS

    spawns = "".join(f"spawn t{i} poll a:IN timeout=inf\n" for i in range(MAX_WAITERS + 1))
    with pytest.raises(ScenarioError) as caught:
        parse("socketpair a b\n" + spawns, "w.mux")
    assert (caught.value.line, caught.value.col) == (MAX_WAITERS + 2, 1)
    assert "more than 4,096 waiters" in caught.value.message
    # At the bound, a join makes room for the next spawn.
    at_bound = "".join(spawns.splitlines(keepends=True)[:MAX_WAITERS])
    parse("socketpair a b\n" + at_bound + "join t0\nspawn u0 poll a:IN\n", "ok.mux")
