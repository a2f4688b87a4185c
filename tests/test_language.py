"""The scenario language: printing and parsing agree, and outcomes compare by meaning."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from muxsim.lang import parse, parse_outcome, parse_statement
from muxsim.lang.masks import Mask, format_mask, parse_mask
from muxsim.lang.outcomes import Ready, Selected, same_outcome
from muxsim.lang.printer import format_scenario, format_statement
from muxsim.lang.syntax import Scenario, Statement
from tests.lang_strategies import masks, outcomes, statements


@given(statements())
def test_parse_of_print_is_identity(statement: Statement) -> None:
    assert parse_statement(format_statement(statement)) == statement


@given(outcomes())
def test_outcome_parse_of_print_is_identity(outcome: object) -> None:
    text = str(outcome)
    assert str(parse_outcome(text)) == text


@given(masks)
def test_mask_round_trip(mask: Mask) -> None:
    assert parse_mask(format_mask(mask)) == mask


@given(st.lists(statements(), max_size=8))
def test_scenario_round_trip_ignoring_name_checks(stmts: list[Statement]) -> None:
    # Whole files check names; build one that defines every name it uses.
    scenario = Scenario(tuple(stmts), claim="a claim\nover two lines")
    text = format_scenario(scenario)
    assert text.startswith("# a claim\n# over two lines\n")
    again = [parse_statement(line) for line in text.splitlines() if not line.startswith("#")]
    assert tuple(again) == scenario.statements


def test_masks_use_linux_values() -> None:
    import select

    assert Mask.IN == select.EPOLLIN
    assert Mask.RDHUP == select.EPOLLRDHUP
    assert Mask.EXCLUSIVE == select.EPOLLEXCLUSIVE
    assert Mask.ONESHOT == select.EPOLLONESHOT
    assert Mask.ET == select.EPOLLET
    assert Mask.NVAL == select.POLLNVAL
    assert Mask.MSG == select.POLLMSG


def test_order_inside_ready_list_and_mask_is_free() -> None:
    written = parse_outcome("b HUP|IN, a OUT")
    assert str(written) == "a OUT, b IN|HUP"
    assert same_outcome(written, Ready.of([("a", Mask.OUT), ("b", Mask.IN | Mask.HUP)]))
    assert not same_outcome(written, Ready.of([("a", Mask.OUT)]))


def test_select_sets_are_canonical() -> None:
    assert str(parse_outcome("x=c w=b r=z,a")) == "r=a,z w=b x=c"
    assert same_outcome(parse_outcome("-"), Selected())
    assert same_outcome(parse_outcome("-"), Ready(()))


def test_comments_blank_lines_and_claim() -> None:
    scenario = parse(
        "# Claim: something.\n# Source: fs/eventpoll.c:ep_poll\n\n"
        "socketpair a b   # trailing comment\n"
        "\n"
        "send a 1 => 1 # comment after expectation\n",
        "x.mux",
    )
    assert scenario.claim == "Claim: something.\nSource: fs/eventpoll.c:ep_poll"
    assert [s.where.line for s in scenario.statements] == [4, 6]
    assert str(scenario.statements[1].expect) == "1"


def test_defaults_stay_out_when_printed() -> None:
    for text in ["socketpair a b", "wait e", "ctl e add a", "poll a:0", "select",
                 "wait e timeout=inf max=3", "socketpair a b dgram", "sleep 0.25"]:
        assert format_statement(parse_statement(text)) == text
