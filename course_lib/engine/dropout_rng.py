"""Dropout on the CPU draws its masks from the global generator, which anything else may also draw from. A run keeps
a generator state of its own for dropout, swaps it in for each step's forward and backward pass and saves it in its
checkpoints: a run stopped and resumed draws the same masks as one that never stopped."""

from __future__ import annotations

import contextlib

import torch


class DropoutRNG:
    """The dropout generator state of one run (``state``: None for a model without dropout)."""

    def __init__(self, model: torch.nn.Module, seed: int, device: torch.device):
        has_dropout = any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in model.modules())
        # seed + 1: the run's own generator (batches, t, noise) is seeded with seed
        self.state = torch.Generator().manual_seed(seed + 1).get_state() if has_dropout else None
        self._swap = has_dropout and device.type == "cpu"  # on a GPU dropout draws from the device's generator
        self._drawn = None  # the state after the last block, until ``commit``

    @contextlib.contextmanager
    def swapped_in(self):
        """Run the block on this run's state; the global generator's state is put back after it."""
        if not self._swap:
            yield
            return
        outside = torch.get_rng_state()
        torch.set_rng_state(self.state)
        try:
            yield
        finally:
            self._drawn = torch.get_rng_state()
            torch.set_rng_state(outside)

    def commit(self) -> None:
        """The step went through: the draws of its block count (a step stopped before its update draws again)."""
        if self._swap:
            self.state = self._drawn
