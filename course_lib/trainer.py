"""Training loop for any ``course_lib`` denoiser, with the epsilon-prediction loss.

**The training step** is notebook 05's ``train_loop``, in its notation and order: ``Trainer._draw`` (a batch ``x0``,
one ``t`` per example, fresh ``noise``), ``Trainer._forward_backward`` (``x_t = q_sample(x0, t, schedule,
noise=noise)``, the network's noise estimate ``eps_hat``, the mean squared error, ``backward``, gradient clipping)
and ``Trainer._update`` (``optimizer.step()`` for AdamW, then the EMA weights), one after the other in this file under
"the training step". What the rest of this module adds around it is the engine, in ``course_lib/engine/``.

AdamW, EMA weights (``torch.optim.swa_utils.AveragedModel`` with a warmed-up decay), gradient
clipping, a step and/or wall-clock budget, a ``tqdm`` progress bar, an optional callback for live
plots, mixed precision (automatic on CUDA, or forced with ``amp="bf16"`` / ``"fp16"`` on any device,
the CPU included, so the GPU code path can be tested without a GPU), atomic checkpoints, and stops
that lose nothing:

* the output path is checked before the first step, not after the last;
* Ctrl-C, the notebook's stop button (SIGINT) and SIGTERM finish the current step, then stop: model,
  EMA and history are kept and the checkpoint (if ``checkpoint_path``) is written. A second Ctrl-C
  stops at once (outside the few lines that update the weights);
* a ``KeyboardInterrupt`` or error raised inside a step (before its update) undoes the step's random
  draws, so the state always corresponds to ``step``;
* a NaN or infinite loss stops with a ``FloatingPointError`` naming the step and the likely cause (the
  data, or weights that diverged); the last good state (before that step) is saved first;
* ``Trainer.from_checkpoint`` resumes the same run: on the CPU with a fixed seed, a run stopped at any
  point and resumed equals an uninterrupted one, bit for bit.

No step reads a value back from the device: batches, t and noise are drawn there, and losses are read every
``log_every`` steps. On CUDA each step after its random draws is one captured CUDA graph
(``TrainConfig.cuda_graph``), so a small model trains at the GPU's speed rather than at the speed of launching
its hundreds of kernels one by one.

``COURSE_MAX_STEPS=N`` (environment) caps every ``train`` call at N steps, to smoke-test a configuration.
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from ._checks import check_finite, check_float_tensor, check_positive_int, trusted_values
from .checkpoints import (
    TRAINER_KEYS,
    CheckpointError,
    build_model,
    check_writable,
    load_checkpoint,
    model_spec,
    save_checkpoint,
)
from .diffusion import q_sample
from .engine.cuda_graph import capture
from .engine.dropout_rng import DropoutRNG
from .engine.loss_log import PendingLosses
from .engine.nonfinite import explain_nonfinite
from .engine.precision import (
    AMP_MODES,
    amp_settings,
    autocast,
    backward,
    create_loss_scale,
    forget_unfinished_step,
    optimizer_step,
    scaler_state_tensors,
)
from .engine.progress import progress_bar
from .engine.stop_signals import StopSignals
from .engine.undo import undone
from .guidance import check_labels, drop_labels
from .schedules import NoiseSchedule, check_schedule
from .utils import check_device, get_device, max_steps_override

T_BUCKETS = 10


@dataclass
class TrainConfig:
    """Hyper-parameters of one run. ``steps`` is the total step count; ``time_budget_s`` (if set)
    stops earlier, after that many seconds of this call to ``train``.

    ``amp``: ``True`` uses mixed precision on CUDA only (bfloat16 where supported, else float16 with a
    gradient scaler); ``"bf16"`` / ``"fp16"`` force it on any device (``torch.autocast`` on the CPU too);
    ``False`` switches it off. ``checkpoint_every``: also save every that many steps. ``compile``: run the
    model's forward through ``torch.compile`` (falls back to eager execution where compilation fails).
    ``cuda_graph``: on CUDA, capture each step after the random draws (forward, backward, clipping, AdamW, EMA,
    and float16's gradient scaler) as one CUDA graph at the first step and replay it, so that a step costs one
    launch instead of hundreds. The graph holds the hyper-parameters it was captured with: change them only
    between runs. Where capture fails, training runs eagerly. ``p_uncond``: when the trainer has labels (a
    class-conditional model), the probability that an example is shown without its label (classifier-free guidance,
    ``course_lib.guidance.drop_labels``).
    """

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
    amp: bool | str = True
    compile: bool = False
    cuda_graph: bool = True
    p_uncond: float = 0.1

    def __post_init__(self):
        for name in ("steps", "batch_size", "log_every"):
            check_positive_int(name, getattr(self, name))
        if self.checkpoint_every is not None:
            check_positive_int("checkpoint_every", self.checkpoint_every)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed={self.seed!r} is not allowed; seed must be an integer")
        for name, low in (("time_budget_s", 0.0), ("lr", 0.0), ("grad_clip", 0.0)):
            value = getattr(self, name)
            if value is None and name == "time_budget_s":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > low:
                raise ValueError(f"{name}={value!r} is not allowed; {name} must be a number > 0"
                                 + (" or None" if name == "time_budget_s" else ""))
        if isinstance(self.weight_decay, bool) or not isinstance(self.weight_decay, (int, float)) \
                or not self.weight_decay >= 0:
            raise ValueError(f"weight_decay={self.weight_decay!r} is not allowed; it must be a number >= 0")
        if isinstance(self.p_uncond, bool) or not isinstance(self.p_uncond, (int, float)) \
                or not 0.0 <= self.p_uncond <= 1.0:
            raise ValueError(f"p_uncond={self.p_uncond!r} is not allowed; it must lie in [0, 1] (0.1 to 0.2 is usual)")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay={self.ema_decay!r} is not allowed; it must lie in [0, 1)")
        for name in ("compile", "cuda_graph"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}={getattr(self, name)!r} is not allowed; it must be True or False")
        if not any(self.amp is m or (isinstance(m, str) and self.amp == m) for m in AMP_MODES):
            raise ValueError(f"amp={self.amp!r} is not supported; allowed: True (CUDA only), False, 'bf16', 'fp16'")


def ema_weight(decay: float, n_averaged: torch.Tensor) -> torch.Tensor:
    """The EMA's step weight 1 - d_n, d_n = min(decay, (1 + n) / (10 + n)), computed on the device from the
    update count n (float64, as a Python float would be); 1 for the first update (n = 0), which copies."""
    n = n_averaged.to(torch.float64)
    return torch.where(n == 0, 1.0, 1 - torch.clamp((1 + n) / (10 + n), max=decay))


def lerp_towards(averaged: list[torch.Tensor], current: list[torch.Tensor], weight: torch.Tensor) -> None:
    """averaged <- averaged + weight (current - averaged), for every pair, with ``weight`` a 0-dim tensor on the
    device: passed as a list of tensors, since a single tensor would be read on the host as a Python number."""
    weight = weight.to(averaged[0].dtype)
    torch._foreach_lerp_(averaged, current, [weight] * len(averaged))


def ema_avg_fn(decay: float):
    """EMA update with warm-up, a ``multi_avg_fn`` of ``AveragedModel``: avg <- avg + (1 - d_n)(param - avg)
    for n >= 1, d_n = min(decay, (1 + n) / (10 + n)); one foreach update for all tensors of a device."""

    def multi_avg_fn(averaged: list[torch.Tensor], current: list[torch.Tensor], num_averaged: torch.Tensor) -> None:
        lerp_towards(averaged, current, ema_weight(decay, num_averaged))

    return multi_avg_fn


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
    """Train ``model`` (``model(x_t, t) -> eps``) on ``data`` (``[N, ...]`` float tensor in [-1, 1]).

    >>> trainer = Trainer(UNet(), NoiseSchedule.make("linear", 1000), load_digits(), TrainConfig(steps=500))
    >>> history = trainer.train()          # progress bar; Ctrl-C / stop button keeps everything
    >>> trainer.save("runs/digits.pt")

    ``checkpoint_path``: written when training stops (for any reason, with the last good state) and every
    ``config.checkpoint_every`` steps; checked for writability at once. ``meta``: a dict of strings and
    numbers stored in the checkpoint (the command line records the dataset's name there).
    ``progress``: show a progress bar (to a log that is not a terminal it updates every 30 s at most).
    After ``train``, ``stop_reason`` says why it stopped: "steps", "time budget", "SIGINT", "SIGTERM",
    "KeyboardInterrupt", "non-finite loss" or "error".
    """

    def __init__(self, model: torch.nn.Module, schedule: NoiseSchedule, data: torch.Tensor,
                 config: TrainConfig | None = None, device=None, callback=None, progress: bool = True,
                 checkpoint_path=None, meta: dict | None = None, labels: torch.Tensor | None = None):
        self.config = config or TrainConfig()
        if not isinstance(self.config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(self.config).__name__}")
        check_schedule("schedule", schedule)
        self.device = check_device(device) if device is not None else get_device()
        if not isinstance(data, torch.Tensor) or data.dim() < 2 or len(data) == 0:
            raise ValueError(f"data must be a non-empty tensor [N, ...], got {getattr(data, 'shape', type(data))}")
        check_float_tensor("data", data)
        check_finite("data", data)
        if checkpoint_path is not None:
            check_writable(checkpoint_path)
        self.model = model.to(self.device)
        self._net = self.model  # what the step calls: the model, or its compiled forward
        if self.config.compile:
            from torch import _dynamo

            _dynamo.config.suppress_errors = True  # no compiler here (e.g. no C compiler): run eagerly
            self._net = torch.compile(self.model)
        self.schedule = schedule
        self._schedule = schedule.to(self.device)  # coefficients next to t: the step copies nothing to the host
        self.data = data.to(self.device)
        self.labels = check_labels(labels, model, len(data))
        if self.labels is not None:
            self.labels = self.labels.to(self.device)
        self.ema = AveragedModel(self.model, multi_avg_fn=ema_avg_fn(self.config.ema_decay), use_buffers=True)
        self.ema.n_averaged = self.ema.n_averaged.to(self.device)  # counted on the device, next to the weights
        # fused: one kernel for all tensors, and it skips a step on the device when told to (``found_inf``)
        self._fused = self.device.type in ("cuda", "cpu")
        self._use_graph = self.config.cuda_graph and self.device.type == "cuda"
        # capturable: its state may be updated inside a CUDA graph (the fused kernels are the same either way)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.config.lr,
                                           weight_decay=self.config.weight_decay, fused=self._fused or None,
                                           capturable=self._use_graph)
        # batches, t and noise are drawn on the training device (on the CPU: the CPU generator, as before)
        self.generator = torch.Generator(device=self.device).manual_seed(self.config.seed)
        self._dropout = DropoutRNG(self.model, self.config.seed, self.device)
        self.use_amp, self.amp_dtype, use_scaler = amp_settings(self.config.amp, self.device)
        self.scaler = torch.amp.GradScaler(self.device.type if use_scaler else "cuda", enabled=use_scaler)
        self.callback, self.progress, self.checkpoint_path = callback, progress, checkpoint_path
        self.meta = dict(meta or {})
        self.step = 0
        self.history = History()
        self.stop_reason: str | None = None
        self.saved_to = None  # the path of the last checkpoint written by this trainer
        self._tick = time.perf_counter()
        self._stops = StopSignals()  # SIGINT / SIGTERM received while training, acted on after the step
        self._consistent = True  # False if an error escaped during a weight update: the state is half-updated
        self._pending = PendingLosses()  # steps whose loss and finiteness are still on the device (``_flush``)
        self._bad = torch.zeros((), dtype=torch.bool, device=self.device)  # a non-finite loss since the last read
        # the step's inputs live in fixed tensors, drawn into every step (a CUDA graph replays fixed addresses)
        self._idx = torch.empty(self.config.batch_size, dtype=torch.long, device=self.device)
        self._t = torch.empty(self.config.batch_size, dtype=torch.long, device=self.device)
        self._noise = torch.empty((self.config.batch_size, *self.data.shape[1:]), device=self.device)
        self._u = torch.empty(self.config.batch_size, device=self.device)  # with labels: which ones are dropped
        self._graph = None  # the captured step (CUDA), made at the first step so that a resumed state is in it
        self._graph_outputs: tuple[torch.Tensor, torch.Tensor] | None = None

    # ------------------------------------------------------------------ the training step (notebook 05's loop)
    def _draw(self) -> None:
        """notebook 05: ``x0 = data[randint(N)]``, ``t = randint(T)``, ``noise = randn(x0.shape)``: the batch's
        indices, one t per example and fresh noise, drawn on the device into the step's fixed input tensors."""
        gen, device = self.generator, self.device
        torch.randint(0, len(self.data), self._idx.shape, generator=gen, device=device, out=self._idx)
        torch.randint(0, self.schedule.T, self._t.shape, generator=gen, device=device, out=self._t)
        torch.randn(self._noise.shape, generator=gen, device=device, out=self._noise)
        if self.labels is not None:  # notebook 08: u ~ U[0, 1) per example, to drop its label
            torch.rand(self._u.shape, generator=gen, device=device, out=self._u)

    def _forward_backward(self) -> tuple[torch.Tensor, torch.Tensor]:
        """notebook 05: ``x_t = q_sample(...)``, the loss, ``zero_grad`` and ``backward``; then gradient clipping.
        Returns ``(loss, per_example)``, left on the device."""
        x0, t, noise = self.data[self._idx], self._t, self._noise
        with trusted_values(), autocast(self.device, self.amp_dtype, self.use_amp):  # the data was checked once
            x_t = q_sample(x0, t, self._schedule, noise=noise)
            if self.labels is None:
                eps_hat = self._net(x_t, t)  # the network's estimate of the noise in x_t
            else:  # notebook 08: the labels shown, each dropped with probability p_uncond
                y = drop_labels(self.labels[self._idx], self._u, self.config.p_uncond, self.model.null_label)
                eps_hat = self._net(x_t, t, y)
            per_example = F.mse_loss(eps_hat, noise, reduction="none").reshape(len(x0), -1).mean(dim=1)
        loss = per_example.float().mean()  # notebook 05: ((model(x_t, t) - noise) ** 2).mean()
        self._bad.logical_or_(~torch.isfinite(loss))  # non-finite: this update and later ones are skipped
        self.optimizer.zero_grad(set_to_none=True)
        backward(loss, self.scaler, self.optimizer, skip=self._bad)  # loss.backward(), scaled under float16
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        return loss, per_example

    def _update(self) -> None:
        """notebook 05: ``optimizer.step()`` (AdamW); then the EMA weights. Both skipped after a non-finite loss."""
        optimizer_step(self.optimizer, self.scaler, skip=self._bad, fused=self._fused)
        self._update_ema(~self._bad)

    def _update_ema(self, good: torch.Tensor) -> None:
        """The EMA update of ``AveragedModel`` without its host reads: weight 1 - d_n on the device, 0 on a
        skipped step (which then does not count as an update)."""
        ema = self.ema
        averaged = [p.detach() for p in (*ema.module.parameters(), *ema.module.buffers())]
        current = [p.detach() for p in (*self.model.parameters(), *self.model.buffers())]
        weight = ema_weight(self.config.ema_decay, ema.n_averaged) * good
        lerp_towards(averaged, current, weight)
        ema.n_averaged += good.to(ema.n_averaged.dtype)

    # ------------------------------------------------------------------ the engine around one step
    def train_step(self) -> float:
        """One AdamW step on a random batch; returns the batch loss (reading it from the device). Raises on a
        non-finite loss, leaving the state of the last good step.

        An exception before the update (a ``KeyboardInterrupt``) restores the random generator, so that the
        trainer's state is still that of ``step``.
        """
        with self._stops.deferred():
            self._train_step()
            self._flush()
        return self.history.loss[-1]

    def _train_step(self) -> None:
        """The training step, run so that it never waits for the device: the loss and the per-t statistics stay
        there until ``_flush``. A non-finite loss sets a device flag that makes this and every later update a no-op
        until ``_flush`` reads it, rewinds the step counter and the random generators to that step, and raises.
        An error before the update undoes the step's draws; one during the update leaves the trainer unusable.

        On CUDA the work after the draws (``_forward_backward`` and ``_update``) is one CUDA graph, captured at the
        first step and replayed after (``TrainConfig.cuda_graph``); elsewhere it runs eagerly.
        """
        rng_before, dropout_before = self.generator.get_state(), self._dropout.state
        try:
            with self._dropout.swapped_in():
                self._draw()
                self.model.train()
                if self._graph is None and self._use_graph:
                    self._capture()
                if self._graph is None:
                    loss, per_example = self._forward_backward()
        except BaseException:
            self.generator.set_state(rng_before)  # the state stays that of `step`
            if self._graph is None:
                self.optimizer.zero_grad(set_to_none=True)
                self._reset_scaler()
            raise
        with self._stops.protected():
            try:
                if self._graph is not None:
                    self._graph.replay()
                    loss, per_example = self._graph_outputs
                else:
                    self._update()
                self._dropout.commit()
                self.step += 1
            except BaseException:
                self._consistent = False
                raise
        self._pending.add(self.step, rng_before, dropout_before, loss, self._bad,
                          self._t * T_BUCKETS // self.schedule.T, per_example)
        now = time.perf_counter()
        self.history.time_s.append((self.history.time_s[-1] if self.history.time_s else 0.0) + (now - self._tick))
        self._tick = now

    def _capture(self) -> None:
        """Capture ``_forward_backward`` and ``_update`` as one CUDA graph (``engine/cuda_graph.py``), its warm-up
        steps undone; where that fails, train eagerly."""
        captured = capture(self._forward_backward, self._update, self.optimizer, self._undone, self.device)
        if captured is None:
            self._use_graph = False
        else:
            self._graph, self._graph_outputs = captured

    def _undone(self):
        """A block whose changes to the run's state (``_state_tensors``) are undone in place (``engine/undo.py``)."""
        create_loss_scale(self.scaler, self._bad)  # float16: the loss scale exists now, so it is saved and restored
        return undone(self._state_tensors, self.device, self._stops.protected, self._reset_scaler)

    def _state_tensors(self) -> list[torch.Tensor]:
        """Every tensor a step changes: weights, buffers, EMA, the non-finite flag, loss scale and optimiser state."""
        return [*self.model.parameters(), *self.model.buffers(), *self.ema.module.parameters(),
                *self.ema.module.buffers(), self.ema.n_averaged, self._bad, *scaler_state_tensors(self.scaler),
                *(v for state in self.optimizer.state.values() for v in state.values() if torch.is_tensor(v))]

    def _reset_scaler(self) -> None:
        forget_unfinished_step(self.scaler)

    def _flush(self) -> None:
        """Read the pending steps' losses and per-t statistics from the device (one transfer) into ``history``.
        If a loss was non-finite, the steps from that one on were no-ops: rewind to it and raise."""
        found = self._pending.read_into(self.history)
        if found is None:
            return
        bad_step, loss = found
        self._bad.zero_()
        self.step = bad_step.step - 1
        self.generator.set_state(bad_step.rng_before)
        self._dropout.state = bad_step.dropout_before
        raise FloatingPointError(self._nan_message(loss))

    def _nan_message(self, value: float) -> str:
        return explain_nonfinite(value, self.step, self.data, self.generator, self.model, self.config, self.use_amp)

    @property
    def _dropout_rng(self) -> torch.Tensor | None:
        """The state of the generator dropout draws from (``engine/dropout_rng.py``), saved in checkpoints."""
        return self._dropout.state

    @_dropout_rng.setter
    def _dropout_rng(self, state: torch.Tensor | None) -> None:
        self._dropout.state = state

    # ------------------------------------------------------------------ the loop
    def _bar(self, target: int):
        return progress_bar(tqdm, target, self.step, self.progress)  # tqdm: tqdm.auto's, unless replaced here

    def train(self, steps: int | None = None, time_budget_s: float | None = None) -> History:
        """Train until ``steps`` total steps (default: config) or ``time_budget_s`` seconds of this call.

        Any stop saves the last good state to ``checkpoint_path`` (if set); an error is raised again after.
        """
        target = steps if steps is not None else self.config.steps
        check_positive_int("steps", target)
        budget = time_budget_s if time_budget_s is not None else self.config.time_budget_s
        if budget is not None and not budget > 0:
            raise ValueError(f"time_budget_s={budget!r} is not allowed; give seconds > 0 or None")
        cap = max_steps_override()
        if cap is not None:
            target = min(target, self.step + cap)
        if not self._consistent:
            raise RuntimeError("this trainer's state is half-updated (an error escaped during a weight update); "
                               "rebuild it from its last checkpoint with Trainer.from_checkpoint")
        start = self._tick = time.perf_counter()
        self._stops.received, self.stop_reason = None, None
        bar = self._bar(target)
        error = None
        try:
            with self._stops.deferred():
                while self.step < target:
                    if budget is not None and time.perf_counter() - start >= budget:
                        self.stop_reason = "time budget"
                        break
                    self._train_step()
                    bar.update(1)
                    if self.step % self.config.log_every == 0:
                        self._flush()  # the only read of the device between log points
                        bar.set_postfix(loss=f"{self.history.loss[-1]:.4f}", refresh=False)
                        if self.callback is not None:
                            self.callback(self)
                    if self.config.checkpoint_every and self.step % self.config.checkpoint_every == 0:
                        self._autosave()
                    if self._stops.received is not None:
                        self.stop_reason = signal.Signals(self._stops.received).name
                        break
                else:
                    self.stop_reason = "steps"
                self._flush()
                if self.history.loss:  # the bar closes on the loss of the run's last step
                    bar.set_postfix(loss=f"{self.history.loss[-1]:.4f}", refresh=False)
        except KeyboardInterrupt:
            self.stop_reason = "KeyboardInterrupt"
            error = self._flush_quietly()
        except FloatingPointError as err:
            self.stop_reason, error = "non-finite loss", err
        except BaseException as err:
            self.stop_reason, error = "error", err
            self._flush_quietly()
        finally:
            bar.close()
        if self.stop_reason in ("SIGINT", "SIGTERM", "KeyboardInterrupt"):
            self.history.interrupted = True
        saved = self._autosave() if self._consistent else None
        where = (f"; the last good state (step {self.step}) is saved to {saved}" if saved
                 else "" if self.checkpoint_path is None or self._consistent
                 else f"; {self.checkpoint_path} keeps the last periodic save (this state is half-updated)")
        if error is not None:
            if saved and isinstance(error, FloatingPointError):
                raise FloatingPointError(f"{error}{where}") from None
            if saved:
                print(f"training stopped by {type(error).__name__} at step {self.step}{where}", file=sys.stderr)
            raise error
        if self.history.interrupted:
            print(f"training interrupted ({self.stop_reason}) at step {self.step}: model, EMA and history are kept"
                  f"{where}", file=sys.stderr)
        return self.history

    def _flush_quietly(self) -> FloatingPointError | None:
        """``_flush`` on a stop: a non-finite loss it finds is returned (to raise after saving), not raised."""
        try:
            self._flush()
        except FloatingPointError as err:
            self.stop_reason = "non-finite loss"
            return err
        return None

    def _autosave(self):
        if self.checkpoint_path is None:
            return None
        self.saved_to = self.save(self.checkpoint_path)
        return self.saved_to

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """Everything needed to resume, as plain tensors, numbers, strings and containers."""
        self._flush()
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
            "dropout_rng": self._dropout.state,
            "meta": dict(self.meta),
        }

    def save(self, path):
        """Write everything needed to resume, atomically. Returns the path."""
        return save_checkpoint(self.state_dict(), path)

    @classmethod
    def from_checkpoint(cls, path, data: torch.Tensor, device=None, **kwargs) -> Trainer:
        """Rebuild model, EMA, optimiser, RNG, step and history from ``path`` and continue the same run.

        ``data`` must have the per-example shape the run was trained on. To extend a finished run, pass a
        larger total to ``train(steps=...)`` (or set ``trainer.config.steps``).
        """
        ckpt = load_checkpoint(path, required=TRAINER_KEYS)
        shape = list(data.shape[1:]) if isinstance(data, torch.Tensor) else None
        if shape is not None and shape != list(ckpt["data_shape"]):
            raise ValueError(f"data has examples of shape {shape}, but the run in {path} was trained on "
                             f"{list(ckpt['data_shape'])}; resume it with the same data")
        try:
            config = TrainConfig(**ckpt["config"])
            schedule = NoiseSchedule.make(ckpt["schedule"]["name"], ckpt["schedule"]["T"])
            model = build_model(ckpt["model"])
            trainer = cls(model, schedule, data, config, device=device, **kwargs)
            trainer.model.load_state_dict(ckpt["model_state"])
            trainer.ema.module.load_state_dict(ckpt["ema"])
            trainer.ema.n_averaged.copy_(ckpt["ema_n_averaged"])
            saved = ckpt["optimizer"]
            for group, fresh in zip(saved["param_groups"], trainer.optimizer.param_groups):
                # the implementation of this device (a run saved on another device may have used another); set
                # before loading, which places the step counts where that implementation keeps them
                group.update(fused=fresh["fused"], capturable=fresh["capturable"])
            trainer.optimizer.load_state_dict(saved)
            if ckpt.get("scaler"):
                trainer.scaler.load_state_dict(ckpt["scaler"])
            trainer.generator.set_state(ckpt["generator"])
            if ckpt.get("dropout_rng") is not None:
                trainer._dropout.state = ckpt["dropout_rng"]
        except (KeyError, TypeError, RuntimeError) as err:
            first = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
            raise CheckpointError(f"checkpoint {path} cannot be resumed: {first}") from None
        trainer.step = int(ckpt["step"])
        trainer.history = History(**ckpt["history"])
        trainer.meta = dict(ckpt.get("meta") or {})
        return trainer

    @property
    def ema_model(self) -> torch.nn.Module:
        """The EMA-averaged denoiser (use it for sampling)."""
        return self.ema.module
