"""Capturing a training step as one CUDA graph: replaying it costs one launch instead of the hundreds of kernels of a
small model's forward, backward and optimiser step, launched one by one.

PyTorch's whole-network recipe (``torch.cuda.graphs``): warm up on a side stream, then capture. The graph refers to
fixed tensors: the step reads its inputs from tensors drawn into before each replay, and its outputs are overwritten
by the next replay. It also holds the hyper-parameters it was captured with.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

WARM_UP_STEPS = 3


def capture(forward_backward: Callable[[], tuple], update: Callable[[], None], optimizer, undone,
            device: torch.device) -> tuple[torch.cuda.CUDAGraph, tuple] | None:
    """Capture ``forward_backward()`` then ``update()`` as one graph. The warm-up steps run inside ``undone()``, so
    the run is the one eager training would give. Returns ``(graph, outputs of forward_backward)``; where capture
    fails (an operation that cannot be captured on this GPU or driver, or no GPU), None, with a warning saying why."""
    try:
        with undone():
            stream = torch.cuda.Stream(device)
            stream.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(stream):
                for _ in range(WARM_UP_STEPS):
                    optimizer.zero_grad(set_to_none=True)
                    forward_backward()
                    update()
            torch.cuda.current_stream(device).wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            optimizer.zero_grad(set_to_none=True)  # the gradients are made inside the graph's memory
            # the outer block restores the current stream even if ending an invalidated capture raises
            with torch.cuda.stream(torch.cuda.current_stream(device)), torch.cuda.graph(graph):
                outputs = forward_backward()
                update()
        return graph, outputs
    except Exception as err:
        optimizer.zero_grad(set_to_none=True)
        warnings.warn(f"training runs without a CUDA graph (capturing the step failed: "
                      f"{type(err).__name__}: {str(err).strip()[:200]})", RuntimeWarning, stacklevel=4)
        return None
