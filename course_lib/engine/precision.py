"""Mixed precision for the training step: autocast, float16's gradient scaler, and an optimiser step that a flag on
the device can skip (after a non-finite loss) without the host reading it.

float16 has a small range: its loss is scaled up before ``backward`` and the gradients scaled back down
(``torch.amp.GradScaler``); bfloat16 and float32 need no scaler, and there the scaler is disabled (scale 1).
"""

from __future__ import annotations

import torch

AMP_MODES = (True, False, "bf16", "fp16")


def amp_settings(amp, device: torch.device) -> tuple[bool, torch.dtype, bool]:
    """``(use_autocast, dtype, use_grad_scaler)`` for ``TrainConfig.amp`` on ``device``.

    float16 needs a gradient scaler (its range is small); bfloat16 does not.
    """
    if amp is True:
        if device.type != "cuda":
            return False, torch.float32, False
        # bfloat16 where the GPU computes it natively (compute capability 8.0 on: Ampere and later); emulated, it is
        # slower than float16 (T4, V100)
        dtype = torch.bfloat16 if torch.cuda.get_device_capability(device)[0] >= 8 else torch.float16
    elif amp is False:
        return False, torch.float32, False
    else:
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]
    return True, dtype, dtype == torch.float16


def autocast(device: torch.device, dtype: torch.dtype, enabled: bool):
    """``torch.autocast`` without its weight cache: a captured CUDA graph must recast the weights every replay."""
    return torch.autocast(device.type, dtype=dtype, enabled=enabled, cache_enabled=False)


def backward(loss: torch.Tensor, scaler: torch.amp.GradScaler, optimizer, skip: torch.Tensor) -> None:
    """``loss.backward()``; under float16 on the scaled loss, with the gradients unscaled after, and the scaler told
    to skip the step while ``skip`` (a bool on the device) is set, as it skips on infinite gradients."""
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    if scaler.is_enabled():
        for found_inf in scaler._per_optimizer_states[id(optimizer)]["found_inf_per_device"].values():
            torch.maximum(found_inf, skip.to(found_inf.dtype), out=found_inf)


def optimizer_step(optimizer, scaler: torch.amp.GradScaler, skip: torch.Tensor, fused: bool) -> None:
    """``optimizer.step()``, skipped on the device while ``skip`` is set: float16's scaler skips on its found_inf
    (``backward`` set it), a fused optimiser on its ``found_inf``; elsewhere (MPS) the host reads the flag."""
    if scaler.is_enabled():
        scaler.step(optimizer)
        scaler.update()
    elif fused:
        optimizer.grad_scale, optimizer.found_inf = None, skip.float()
        optimizer.step()
    elif not bool(skip):
        optimizer.step()


def forget_unfinished_step(scaler: torch.amp.GradScaler) -> None:
    """float16: forget the scaler's bookkeeping of a step stopped between ``unscale_`` and ``update`` (it would refuse
    every later step), as ``update`` does."""
    if scaler.is_enabled():
        scaler._per_optimizer_states.clear()


def create_loss_scale(scaler: torch.amp.GradScaler, like: torch.Tensor) -> None:
    """float16: make the loss scale and its growth counter now (the scaler makes them at its first use, on
    ``like``'s device), so that they exist to be saved and restored."""
    if scaler.is_enabled():
        scaler.scale(like.float())


def scaler_state_tensors(scaler: torch.amp.GradScaler) -> list[torch.Tensor]:
    """The tensors a step changes in the scaler: the loss scale and its growth counter (once made)."""
    if not scaler.is_enabled():
        return []
    return [t for t in (scaler._scale, scaler._growth_tracker) if t is not None]
