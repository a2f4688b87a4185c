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
