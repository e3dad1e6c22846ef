"""A dependency-free progress display: a bar redrawn in place on a terminal, and a plain line every
LINE_INTERVAL_S seconds otherwise (logs, CI, a piped demo), so a long run shows it is alive."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

LINE_INTERVAL_S = 20.0


class ProgressBar:
    """Args:
        total: steps of the whole run (any unit: iterations, epochs, files).
        label: what runs, shown before the bar or line.
        stream: where to write (stderr by default, so stdout stays for results).
        width: bar length in characters, on a terminal.
    """

    def __init__(self, total: int, label: str = "", stream: TextIO | None = None, width: int = 30) -> None:
        self.total, self.label, self.width = max(int(total), 1), label, width
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.start = time.perf_counter()
        self._last = 0.0 if self.terminal else self.start
        self._finished = False

    def update(self, done: int, text: str = "") -> None:
        now = time.perf_counter()
        interval = 0.1 if self.terminal else LINE_INTERVAL_S
        finished = done >= self.total
        if (now - self._last < interval and not finished) or (finished and self._finished and not self.terminal):
            return  # off a terminal, the end is written once, however many events follow it
        self._finished = finished
        self._last = now
        frac = min(done / self.total, 1.0)
        elapsed = now - self.start
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        if self.terminal:
            bar = "#" * int(frac * self.width)
            self.stream.write(f"\r{self.label} [{bar:<{self.width}}] {frac:4.0%} {text} ETA {eta:4.0f}s ")
        else:
            detail = f" {text}" if text else ""
            # floored: 99.6 % is not "100%" (that is written once, at the end)
            self.stream.write(f"{self.label}: {int(frac * 100)}%{detail} ({elapsed:.0f} s, {eta:.0f} s left)\n")
        self.stream.flush()

    def close(self) -> None:
        if self.terminal:
            self.stream.write("\n")
            self.stream.flush()


def training_progress(label: str) -> Callable:
    """An `on_event` callback for the training engine that shows its events on a ProgressBar: for runs that
    call the library rather than a command (the demo), so that they show they are alive too."""
    bar = ProgressBar(1, label)

    def on_event(event) -> None:
        bar.total = max(event.steps, 1)
        loss = f" loss {event.loss:.4f}" if event.loss is not None else ""
        bar.update(event.step, f"epoch {event.epoch}/{event.epochs}{loss}")
        if event.step >= event.steps:
            bar.close()
    return on_event
