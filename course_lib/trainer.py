"""Training loop for any ``course_lib`` denoiser, with the epsilon-prediction loss.

AdamW, EMA weights (``torch.optim.swa_utils.AveragedModel`` with a warmed-up decay), gradient
clipping, a step and/or wall-clock budget, a ``tqdm`` progress bar, an optional callback for live
plots, mixed precision on CUDA only, atomic checkpoints, and clean stops:

* the notebook's stop button (``KeyboardInterrupt``) ends training and keeps model, EMA and history;
* a NaN or infinite loss stops with a ``FloatingPointError`` naming the step (weights from before it kept);
* ``Trainer.from_checkpoint`` resumes the same run: on the CPU with a fixed seed the resumed
  losses equal those of an uninterrupted run.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from .checkpoints import build_model, load_checkpoint, model_spec, save_checkpoint
from .diffusion import diffusion_loss
from .schedules import NoiseSchedule
from .utils import get_device

T_BUCKETS = 10


@dataclass
class TrainConfig:
    """Hyper-parameters of one run. ``steps`` is the total step count; ``time_budget_s`` (if set)
    stops earlier, after that many seconds of this call to ``train``."""

    steps: int = 2000
    time_budget_s: float | None = None
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.0
    ema_decay: float = 0.995
    grad_clip: float = 1.0
    seed: int = 0
    log_every: int = 25
    checkpoint_every: int | None = None
    amp: bool = True

    def __post_init__(self):
        for name in ("steps", "batch_size", "log_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} is not allowed; {name} must be a positive integer")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise ValueError(f"time_budget_s={self.time_budget_s!r} is not allowed; give seconds > 0 or None")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay={self.ema_decay!r} is not allowed; it must lie in [0, 1)")


def ema_avg_fn(decay: float):
    """EMA update with warm-up: avg <- avg + (1 - d_n)(param - avg), d_n = min(decay, (1 + n) / (10 + n))."""

    def avg_fn(averaged: torch.Tensor, current: torch.Tensor, num_averaged: torch.Tensor) -> torch.Tensor:
        n = float(num_averaged)
        d = min(decay, (1 + n) / (10 + n))
        return averaged + (current - averaged) * (1 - d)

    return avg_fn


@dataclass
class History:
    """What a run has recorded: one loss per step, and the mean loss per t-bucket (T split in 10)."""

    step: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    time_s: list = field(default_factory=list)
    loss_by_t: list = field(default_factory=lambda: [0.0] * T_BUCKETS)
    count_by_t: list = field(default_factory=lambda: [0] * T_BUCKETS)
    interrupted: bool = False

    def mean_loss_by_t(self) -> list[float]:
        return [s / c if c else float("nan") for s, c in zip(self.loss_by_t, self.count_by_t)]

    def __repr__(self) -> str:  # a summary: a notebook cell ending in ``trainer.train()`` shows this line
        if not self.step:
            return "History(no steps yet)"
        last = self.loss[-50:]
        return (f"History({len(self.step)} steps up to step {self.step[-1]}, mean loss of the last {len(last)}: "
                f"{sum(last) / len(last):.4f}{', interrupted' if self.interrupted else ''})")


class Trainer:
    """Train ``model`` (``model(x_t, t) -> eps``) on ``data`` (``[N, ...]`` tensor in [-1, 1]).

    >>> trainer = Trainer(UNet(), NoiseSchedule.make("linear", 1000), load_digits(), TrainConfig(steps=500))
    >>> history = trainer.train()          # progress bar; Ctrl-C / stop button keeps everything
    >>> trainer.save("runs/digits.pt")
    """

    def __init__(self, model: torch.nn.Module, schedule: NoiseSchedule, data: torch.Tensor,
                 config: TrainConfig | None = None, device=None, callback=None, progress: bool = True,
                 checkpoint_path=None):
        self.config = config or TrainConfig()
        self.device = torch.device(device) if device is not None else get_device()
        self.model = model.to(self.device)
        self.schedule = schedule
        if not isinstance(data, torch.Tensor) or data.dim() < 2 or len(data) == 0:
            raise ValueError(f"data must be a non-empty tensor [N, ...], got {getattr(data, 'shape', type(data))}")
        self.data = data.to(self.device)
        self.ema = AveragedModel(self.model, avg_fn=ema_avg_fn(self.config.ema_decay), use_buffers=True)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.config.lr,
                                           weight_decay=self.config.weight_decay)
        self.generator = torch.Generator().manual_seed(self.config.seed)  # batches, t and noise
        self.use_amp = self.config.amp and self.device.type == "cuda"
        self.amp_dtype = torch.bfloat16 if self.use_amp and torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and self.amp_dtype == torch.float16)
        self.callback, self.progress, self.checkpoint_path = callback, progress, checkpoint_path
        self.step = 0
        self.history = History()

    # ------------------------------------------------------------------ one step
    def train_step(self) -> float:
        """One AdamW step on a random batch; returns the batch loss. Raises on a non-finite loss."""
        cfg, gen = self.config, self.generator
        idx = torch.randint(0, len(self.data), (cfg.batch_size,), generator=gen).to(self.device)
        x0 = self.data[idx]
        t = torch.randint(0, self.schedule.T, (cfg.batch_size,), generator=gen).to(self.device)
        noise = torch.randn(x0.shape, generator=gen).to(self.device)
        self.model.train()
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.use_amp):
            per_example = diffusion_loss(self.model, x0, self.schedule, t=t, noise=noise, reduction="none")
        loss = per_example.float().mean()
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"the loss is {loss.item()} at step {self.step}: training stopped before this step's update, "
                f"so the model holds the weights of step {self.step}. Try a lower lr (now {cfg.lr}), "
                f"a smaller grad_clip (now {cfg.grad_clip}) or amp=False.")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.ema.update_parameters(self.model)
        self.step += 1
        self._record(loss.item(), t, per_example.detach())
        return loss.item()

    def _record(self, loss: float, t: torch.Tensor, per_example: torch.Tensor) -> None:
        h = self.history
        h.step.append(self.step)
        h.loss.append(loss)
        h.time_s.append((h.time_s[-1] if h.time_s else 0.0) + (time.perf_counter() - self._tick))
        self._tick = time.perf_counter()
        buckets = (t * T_BUCKETS // self.schedule.T).tolist()
        for b, value in zip(buckets, per_example.float().tolist()):
            h.loss_by_t[b] += value
            h.count_by_t[b] += 1

    # ------------------------------------------------------------------ the loop
    def train(self, steps: int | None = None, time_budget_s: float | None = None) -> History:
        """Train until ``steps`` total steps (default: config) or ``time_budget_s`` seconds have passed."""
        target = steps if steps is not None else self.config.steps
        budget = time_budget_s if time_budget_s is not None else self.config.time_budget_s
        start = self._tick = time.perf_counter()
        bar = tqdm(total=target, initial=self.step, desc="training", disable=not self.progress, leave=True)
        try:
            while self.step < target and (budget is None or time.perf_counter() - start < budget):
                loss = self.train_step()
                bar.update(1)
                if self.step % self.config.log_every == 0:
                    bar.set_postfix(loss=f"{loss:.4f}")
                    if self.callback is not None:
                        self.callback(self)
                if self.config.checkpoint_every and self.step % self.config.checkpoint_every == 0:
                    self._autosave()
        except KeyboardInterrupt:
            self.history.interrupted = True
            bar.write(f"training interrupted at step {self.step}: model, EMA and history are kept"
                      + (f"; checkpoint saved to {self.checkpoint_path}" if self.checkpoint_path else ""))
        finally:
            bar.close()
        self._autosave()
        return self.history

    def _autosave(self) -> None:
        if self.checkpoint_path is not None:
            self.save(self.checkpoint_path)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        return {
            "model": model_spec(self.model),
            "model_state": self.model.state_dict(),
            "ema": self.ema.module.state_dict(),
            "ema_n_averaged": self.ema.n_averaged.cpu(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "config": asdict(self.config),
            "schedule": {"name": self.schedule.name, "T": self.schedule.T},
            "data_shape": list(self.data.shape[1:]),
            "history": asdict(self.history),
            "generator": self.generator.get_state(),
        }

    def save(self, path) -> None:
        """Write everything needed to resume, atomically."""
        save_checkpoint(self.state_dict(), path)

    @classmethod
    def from_checkpoint(cls, path, data: torch.Tensor, device=None, **kwargs) -> Trainer:
        """Rebuild model, EMA, optimiser, RNG, step and history from ``path`` and continue the same run."""
        ckpt = load_checkpoint(path)
        config = TrainConfig(**ckpt["config"])
        schedule = NoiseSchedule.make(ckpt["schedule"]["name"], ckpt["schedule"]["T"])
        trainer = cls(build_model(ckpt["model"]), schedule, data, config, device=device, **kwargs)
        trainer.model.load_state_dict(ckpt["model_state"])
        trainer.ema.module.load_state_dict(ckpt["ema"])
        trainer.ema.n_averaged.copy_(ckpt["ema_n_averaged"])
        trainer.optimizer.load_state_dict(ckpt["optimizer"])
        trainer.scaler.load_state_dict(ckpt["scaler"])
        trainer.generator.set_state(ckpt["generator"])
        trainer.step = ckpt["step"]
        trainer.history = History(**ckpt["history"])
        return trainer

    @property
    def ema_model(self) -> torch.nn.Module:
        """The EMA-averaged denoiser (use it for sampling)."""
        return self.ema.module
