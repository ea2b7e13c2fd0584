"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts (nothing pickled
as code), so ``weights_only=True`` can read it: that restricts unpickling to tensors, primitive types
and a short allow-list of classes, a much smaller attack surface than a plain pickle load (not a
guarantee: load only files you trust). ``build_model`` rebuilds a denoiser from the
``model`` entry: ``{"kind": "unet" | "mlp", "config": {...}}``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from ._checks import check_choice
from .mlp_denoiser import MLPDenoiser
from .schedules import NoiseSchedule
from .unet import UNet

MODEL_KINDS = {"unet": UNet, "mlp": MLPDenoiser}
SHIPPED = Path(__file__).parent / "checkpoints"


def model_spec(model: torch.nn.Module) -> dict:
    """``{"kind", "config"}`` describing ``model`` so that ``build_model`` can rebuild it."""
    for kind, cls in MODEL_KINDS.items():
        if isinstance(model, cls):
            return {"kind": kind, "config": dict(model.config)}
    raise TypeError(f"cannot describe a {type(model).__name__}; checkpoints hold {list(MODEL_KINDS)} models")


def build_model(spec: dict) -> torch.nn.Module:
    check_choice("model kind", spec["kind"], MODEL_KINDS)
    return MODEL_KINDS[spec["kind"]](**spec["config"])


def save_checkpoint(obj: dict, path: str | Path) -> Path:
    """Write ``obj`` to ``path`` atomically: a temporary file in the same folder, fsync, then rename.

    An interrupted save leaves the previous checkpoint intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Read a checkpoint with ``weights_only=True``; a clear error if it is missing."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    return torch.load(path, map_location=map_location, weights_only=True)


def load_denoiser(path: str | Path | None = None, ema: bool = True, device="cpu"):
    """The denoiser of a checkpoint (its EMA weights by default), in eval mode, and its schedule.

    ``path=None`` loads the digits checkpoint shipped inside the package.
    Returns ``(model, schedule, checkpoint_dict)``.
    """
    path = Path(path) if path is not None else SHIPPED / "digits_unet.pt"
    ckpt = load_checkpoint(path, map_location=device)
    model = build_model(ckpt["model"])
    state = ckpt["ema"] if ema and ckpt.get("ema") is not None else ckpt["model_state"]
    model.load_state_dict(state)
    schedule = NoiseSchedule.make(ckpt["schedule"]["name"], ckpt["schedule"]["T"])
    return model.to(device).eval(), schedule, ckpt
