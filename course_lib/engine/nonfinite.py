"""The message of a non-finite loss: what it is blamed on, found by drawing the failed step's batch again."""

from __future__ import annotations

import torch


def explain_nonfinite(value: float, step: int, data: torch.Tensor, generator: torch.Generator, model: torch.nn.Module,
                      config, use_amp: bool) -> str:
    """``value``: the loss of step ``step + 1``; ``generator``: in its state before that step; ``config``: the run's
    ``TrainConfig``. Blames the batch (data changed since it was checked), the weights (training diverged) or, with
    both finite, an overflow of the model's output."""
    replay = torch.Generator(device=generator.device)
    replay.set_state(generator.get_state())  # the batch of the step that failed, drawn again
    x0 = data[torch.randint(0, len(data), (config.batch_size,), generator=replay, device=generator.device)]
    head = (f"the loss is {value} at step {step}: training stopped before this step's update, "
            f"so the model holds the weights of step {step}")
    if not bool(torch.isfinite(x0).all()):
        return f"{head}. The batch holds NaN or infinite values: the training data changed since it was checked"
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        return (f"{head}, which already hold NaN or infinite values: training diverged. Try a lower lr "
                f"(now {config.lr}) or a smaller grad_clip (now {config.grad_clip})")
    return (f"{head}. The data and weights are finite, so the model's output overflowed: try a lower lr "
            f"(now {config.lr}), a smaller grad_clip (now {config.grad_clip})"
            + (" or amp=False" if use_amp else ""))
