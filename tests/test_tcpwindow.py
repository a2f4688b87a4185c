"""The receive-window rules against what ``ss -tmi`` showed on Linux 6.18 (loopback).

Each expected number was read on the real kernel (``ss -tmi`` on a fresh
``tcppair``, ``net.ipv4.tcp_rmem`` = 4096 131072 33554432, ``net.core.rmem_max``
= 4194304), not taken from the model. The catalogue's ``tcp-window-*.mux``
scenarios check the same rules end to end.
"""

from __future__ import annotations

from muxsim.model.tcpwindow import (
    tcp_select_initial_window,
    tcp_select_window,
    win_from_space,
)

TCP_RMEM_MAX = 33554432
RMEM_MAX = 4194304
#: SO_RCVBUF's default on loopback TCP (tcp_rmem[1]), at the default scaling ratio.
FULL_SPACE = win_from_space(131072, 128)


def test_the_server_offers_its_mss_less_timestamps_and_scales_by_ten() -> None:
    # ss on the accepted end: rcv_space:65483, wscale:10,10.
    initial = tcp_select_initial_window(FULL_SPACE, 65483, 0, TCP_RMEM_MAX, RMEM_MAX)
    assert (initial.rcv_wnd, initial.rcv_wscale) == (65483, 10)


def test_the_client_offers_the_routes_mss() -> None:
    # ss on the connecting end: rcv_ssthresh:65495 (its first window).
    initial = tcp_select_initial_window(FULL_SPACE, 65495, 0, TCP_RMEM_MAX, RMEM_MAX)
    assert (initial.rcv_wnd, initial.rcv_wscale) == (65495, 10)


def test_a_listener_locked_to_a_small_buffer_gives_scale_zero() -> None:
    # SO_RCVBUF 8192 on the listener (16384 charged): the accepted socket
    # offers 8,192 unscaled, and c cuts 4,096-byte segments
    # (tcp-window-listener-rcvbuf.mux).
    full = win_from_space(16384, 128)
    initial = tcp_select_initial_window(full, 65483, full, TCP_RMEM_MAX, RMEM_MAX)
    assert (initial.rcv_wnd, initial.rcv_wscale) == (8192, 0)


def test_what_is_left_of_a_window_is_offered_again_rounded_up() -> None:
    # The case: one byte in, s offers the 65,482 left of 65,483
    # rounded up to 1 << 10 (ss on c afterwards: snd_wnd:65536), although
    # its 8 KiB buffer would offer far less.
    assert tcp_select_window(65482, 0, 10) == 65536
    # A window that grew is offered as it is.
    assert tcp_select_window(1024, 64512, 10) == 64512
