"""The training progress bar."""

from __future__ import annotations

import sys


def progress_bar(bar_class, total: int, initial: int, enabled: bool):
    """A ``bar_class`` (``tqdm.auto.tqdm``: a widget in a notebook, text elsewhere) from ``initial`` to ``total`` steps.

    In a notebook it refreshes ten times a second and is drawn again when closed, so that the saved notebook's text
    copy shows where training stopped (100%, or the step of a stop), not the 0% it had when first drawn. Elsewhere it
    writes to stderr (every 30 s at most to a log that is not a terminal)."""
    from tqdm.notebook import tqdm as notebook_bar  # what tqdm.auto picks in a notebook

    if enabled and issubclass(bar_class, notebook_bar):
        from IPython.display import display

        bar = bar_class(total=total, initial=initial, desc="training", leave=True, mininterval=0.1, file=sys.stderr,
                        display=False)
        handle = display(bar.container, display_id=True)
        close = bar.close

        def close_and_redraw():
            del bar.close  # once: a later close (tqdm's own, when the bar is collected) must not redraw
            close()
            if handle is not None:
                handle.update(bar.container)  # the text copy is written now, at the bar's last state

        bar.close = close_and_redraw
        return bar
    interactive = sys.stderr.isatty()
    return bar_class(total=total, initial=initial, desc="training", disable=not enabled, leave=True,
                     mininterval=0.1 if interactive else 30.0, file=sys.stderr)
