"""Progress of a long command on stderr, readable in a terminal and in a log.

Nothing is shown for the first few seconds: most runs end before anyone
wonders. After that, on a terminal, one line is rewritten in place (``\\r``
and erase-line) at most a few times a second and erased when the run ends
or before other output; anywhere else (a log, a pipe, CI), a whole line is
written at most every ``every`` seconds, so a log gets a readable trickle
instead of one endless line of carriage returns.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

#: Seconds before the first progress line.
AFTER = 3.0
#: Seconds between two lines when stderr is not a terminal.
EVERY = 10.0
#: Seconds between two redraws on a terminal.
REDRAW = 0.2


class Progress:
    """Shows ``update`` messages once the command has run ``after`` seconds."""

    def __init__(self, stream: TextIO | None = None, *, after: float | None = None,
                 every: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.tty = self.stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.after = AFTER if after is None else after
        self.every = EVERY if every is None else every
        self.clock = clock
        self.began = clock()
        self.last: float | None = None
        self.drawn = False  # a terminal line is on screen

    def elapsed(self) -> float:
        return self.clock() - self.began

    def update(self, message: str, *, force: bool = False) -> None:
        """Show ``message`` if it is time; ``force``: a new phase, shown whenever it comes."""
        now = self.clock()
        if now - self.began < self.after and not force:
            return
        gap = REDRAW if self.tty else self.every
        if self.last is not None and now - self.last < gap and not force:
            return
        self.last = now
        if self.tty:
            self.stream.write(f"\r\033[K{message}")
            self.drawn = True
        else:
            self.stream.write(message + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Erase the terminal line (before other output, and at the end)."""
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.drawn = False
