"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts (nothing pickled
as code), so ``weights_only=True`` can read it: that restricts unpickling to tensors, primitive types
and a short allow-list of classes, a much smaller attack surface than a plain pickle load (not a
guarantee: load only files you trust). ``build_model`` rebuilds a denoiser from the
``model`` entry: ``{"kind": "unet" | "mlp", "config": {...}}``.

A file that is not such a checkpoint (empty, truncated, random bytes, JSON, a tensor or a dict
saved by other code, a folder) raises ``CheckpointError`` with one line naming the file and what
is wrong with it.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
from pathlib import Path

import torch

from ._checks import check_choice
from .mlp_denoiser import MLPDenoiser
from .schedules import NoiseSchedule
from .unet import UNet

MODEL_KINDS = {"unet": UNet, "mlp": MLPDenoiser}
SHIPPED = Path(__file__).parent / "checkpoints"
# what ``load_denoiser`` needs; a trainer checkpoint has these and the training state besides
DENOISER_KEYS = ("model", "model_state", "schedule", "data_shape")
TRAINER_KEYS = (*DENOISER_KEYS, "ema", "ema_n_averaged", "optimizer", "step", "config", "history", "generator")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names the file and what is wrong."""


def model_spec(model: torch.nn.Module) -> dict:
    """``{"kind", "config"}`` describing ``model`` so that ``build_model`` can rebuild it."""
    for kind, cls in MODEL_KINDS.items():
        if isinstance(model, cls):
            return {"kind": kind, "config": model.config.to_dict()}
    raise TypeError(f"cannot describe a {type(model).__name__}; checkpoints hold {list(MODEL_KINDS)} models")


def build_model(spec: dict) -> torch.nn.Module:
    check_choice("model kind", spec["kind"], MODEL_KINDS)
    return MODEL_KINDS[spec["kind"]](**spec["config"])


def check_writable(path: str | Path) -> Path:
    """Fail now, not after training, if a checkpoint cannot be written to ``path``.

    Creates the parent folder if needed and writes (then removes) a probe file there. Raises
    ``ValueError`` (a folder or device given as the file) or ``OSError`` subclasses with a clear message.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write the checkpoint to {path}: it is a folder; give a file name, "
                                f"e.g. {path / 'run.pt'}")
    if path.exists() and not path.is_file():
        raise FileExistsError(f"cannot write the checkpoint to {path}: it exists and is not a regular file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise PermissionError(f"cannot write the checkpoint to {path}: {reason} ({err.filename or path.parent}); "
                              f"choose another --out / checkpoint_path") from err
    return path


def _remove_stale_temporaries(path: Path) -> None:
    """Delete ``.<name>.<pid>.*.tmp`` files left by a writer that was killed (``kill -9``) mid-save."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(\d+)\..*\.tmp$")
    for other in path.parent.glob(f".{path.name}.*.tmp"):
        match = pattern.match(other.name)
        if match is None:
            continue
        pid = int(match.group(1))
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)  # the writer is still running: leave its file alone
        except ProcessLookupError:
            other.unlink(missing_ok=True)
        except OSError:
            pass


def save_checkpoint(obj: dict, path: str | Path) -> Path:
    """Write ``obj`` to ``path`` atomically: a temporary file in the same folder, fsync, then rename.

    An interrupted save leaves the previous checkpoint intact; the temporary file of a writer killed
    mid-save (``kill -9``) is removed by the next save to the same path.
    """
    path = check_writable(path)
    _remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
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


def load_checkpoint(path: str | Path, map_location="cpu", required=()) -> dict:
    """Read a checkpoint with ``weights_only=True``.

    Raises ``FileNotFoundError`` if it is missing and ``CheckpointError`` (one line: the file and what is
    wrong) for a file that is not a PyTorch dict holding the ``required`` entries (``DENOISER_KEYS`` for a
    denoiser, ``TRAINER_KEYS`` to resume training; the default, none, reads any dict, e.g. a state_dict).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder, not a checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): probably a save that never finished")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        what = ("it holds Python objects other than tensors, numbers and containers"
                if "Unsupported global" in str(err) or "GLOBAL" in str(err) else "it is not a PyTorch file")
        raise CheckpointError(f"checkpoint {path} cannot be read safely: {what}, so it was not loaded "
                              f"(not a course_lib checkpoint, or damaged)") from None
    except Exception as err:  # random bytes make the unpickler fail in many ways (IndexError, KeyError, ...)
        first = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        if "weights_only" in first:
            first = type(err).__name__
        raise CheckpointError(f"checkpoint {path} is damaged or not a PyTorch file ({first})") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(ckpt).__name__}, not a course_lib checkpoint "
                              f"(a dict with {', '.join(required)})")
    missing = [k for k in required if k not in ckpt]
    if missing:
        raise CheckpointError(f"checkpoint {path} is not a course_lib checkpoint: it lacks {', '.join(missing)} "
                              f"(it has {', '.join(map(str, list(ckpt)[:6])) or 'no entries'})")
    if "model" not in required:
        return ckpt
    model = ckpt["model"]
    if not isinstance(model, dict) or model.get("kind") not in MODEL_KINDS or not isinstance(model.get("config"), dict):
        raise CheckpointError(f"checkpoint {path} describes an unknown model {model!r}; "
                              f"allowed kinds: {', '.join(MODEL_KINDS)}")
    return ckpt


def load_denoiser(path: str | Path | None = None, ema: bool = True, device="cpu"):
    """The denoiser of a checkpoint (its EMA weights by default), in eval mode, and its schedule.

    ``path=None`` loads the digits checkpoint shipped inside the package.
    Returns ``(model, schedule, checkpoint_dict)``.
    """
    path = Path(path) if path is not None else SHIPPED / "digits_unet.pt"
    ckpt = load_checkpoint(path, map_location=device, required=DENOISER_KEYS)
    try:
        model = build_model(ckpt["model"])
        state = ckpt["ema"] if ema and ckpt.get("ema") is not None else ckpt["model_state"]
        model.load_state_dict(state)
        schedule = NoiseSchedule.make(ckpt["schedule"]["name"], ckpt["schedule"]["T"])
    except (RuntimeError, TypeError, KeyError, ValueError) as err:
        first = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"checkpoint {path} does not match its model description: {first}") from None
    return model.to(device).eval(), schedule, ckpt
