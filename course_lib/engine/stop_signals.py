"""Ctrl-C, a notebook's stop button (both SIGINT) and SIGTERM, received while training: noted, and acted on after the
current step, so that the run stops with whole weights. A second SIGINT stops at once (``KeyboardInterrupt``), except
inside ``protected()``, the few lines that change the weights."""

from __future__ import annotations

import contextlib
import signal
import threading


class StopSignals:
    """``received``: the signal number noted since ``deferred()`` began (None if none)."""

    def __init__(self):
        self.received: int | None = None
        self.updating = False  # inside ``protected()``
        self._handling = False

    @contextlib.contextmanager
    def deferred(self):
        """Note SIGINT and SIGTERM instead of acting on them, inside this block (main thread only; not nested)."""
        if threading.current_thread() is not threading.main_thread() or self._handling:
            yield
            return

        def handler(signum, frame):
            if signum == signal.SIGINT and self.received is not None and not self.updating:
                raise KeyboardInterrupt  # a second Ctrl-C: stop now (the step is undone)
            self.received = signum

        previous = {}
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # no signals here (e.g. an embedded interpreter): train without
            pass
        self._handling = True
        try:
            yield
        finally:
            self._handling = False
            for sig, old in previous.items():
                signal.signal(sig, old)

    @contextlib.contextmanager
    def protected(self):
        """Inside this block a second Ctrl-C waits until the block ends."""
        self.updating = True
        try:
            yield
        finally:
            self.updating = False
