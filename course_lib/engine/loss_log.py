"""Each step's loss, kept on the device: reading it on the host would make every step wait for the device. The losses
of the steps since the last log point are read into the run's ``History`` at once (one transfer), by ``read_into``.

A step also keeps what a rewind to it needs (its random generators' states before it): a non-finite loss is found
only at the read, possibly several steps later.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class PendingStep(NamedTuple):
    step: int  # the step's number (1 for the first)
    rng_before: torch.Tensor  # the batch generator's state before the step's draws
    dropout_before: torch.Tensor | None  # the dropout generator's state before the step
    loss: torch.Tensor  # on the device, as every tensor below
    bad: torch.Tensor  # the non-finite flag after the step (set from the first non-finite loss on)
    buckets: torch.Tensor  # each example's t-bucket
    per_example: torch.Tensor  # each example's loss


class PendingLosses:
    """The steps whose losses are still on the device, oldest first."""

    def __init__(self):
        self._steps: list[PendingStep] = []

    def __len__(self) -> int:
        return len(self._steps)

    def add(self, step: int, rng_before, dropout_before, loss, bad, buckets, per_example) -> None:
        """Keep a step's results: copies, since a CUDA graph's outputs are overwritten by its next replay."""
        self._steps.append(PendingStep(step, rng_before, dropout_before, loss.detach().clone(), bad.clone(), buckets,
                                       per_example.detach().float().clone()))

    def read_into(self, history) -> tuple[PendingStep, float] | None:
        """Read the pending steps into ``history`` (step, loss, loss and count per t-bucket), up to the first one with a
        non-finite loss: that step and the ones after it were no-ops, and their times are dropped from ``history``.
        Returns ``(that step, its loss)``, or None if every loss was finite."""
        if not self._steps:
            return None
        pending, self._steps = self._steps, []
        losses = torch.stack([p.loss for p in pending]).tolist()
        bad = torch.stack([p.bad for p in pending]).tolist()
        buckets = torch.cat([p.buckets for p in pending]).tolist()
        values = torch.cat([p.per_example for p in pending]).tolist()
        first_bad = bad.index(True) if True in bad else len(pending)
        size = len(pending[0].per_example)
        for k in range(first_bad):
            history.step.append(pending[k].step)
            history.loss.append(losses[k])
            for b, value in zip(buckets[k * size:(k + 1) * size], values[k * size:(k + 1) * size]):
                history.loss_by_t[b] += value
                history.count_by_t[b] += 1
        if first_bad == len(pending):
            return None
        del history.time_s[len(history.time_s) - (len(pending) - first_bad):]
        return pending[first_bad], losses[first_bad]
