"""Undoing steps in place: a CUDA graph's capture runs real steps first (its warm-up), and their changes to the run
must not count."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch


@contextlib.contextmanager
def undone(state_tensors: Callable[[], list[torch.Tensor]], device: torch.device, protected, after: Callable[[], None]):
    """Undo, in place, every change the steps inside this block make to the tensors ``state_tensors()`` lists (the
    run's state), whether the block ends or raises; tensors made inside the block (an optimiser's state created by
    its first step) are zeroed, as when new. In place: tensors keep their addresses, which a graph captured inside
    the block refers to. The undoing runs inside ``protected()`` (no interruption), then calls ``after()``."""
    saved = state_tensors()
    copies = [t.detach().clone() for t in saved]
    before = {id(t) for t in saved}  # the same objects each call (parameters, state tensors)
    try:
        yield
    finally:
        with protected():
            if device.type == "cuda":  # the block's work may still run on a side stream (a failed capture)
                torch.cuda.synchronize(device)
            with torch.no_grad():
                for tensor, copy in zip(saved, copies):
                    tensor.copy_(copy)
                for tensor in state_tensors():
                    if id(tensor) not in before:
                        tensor.zero_()
            after()
