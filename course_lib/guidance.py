"""Classifier-free guidance (Ho & Salimans 2022): one network, trained both with and without the label, steered at
sampling time by the difference between its two noise estimates.

Training shows each example without its label with probability ``p_uncond`` (``drop_labels``; Sec. 3.2, Alg. 1),
so the same network learns eps_hat(x_t, t, y) and eps_hat(x_t, t, null). Sampling combines the two (``guide``):

    eps_guided = eps_uncond + s * (eps_cond - eps_uncond)

``s`` is the guidance scale: s = 0 ignores the label (the unconditional model), s = 1 is the plain conditional
model, s > 1 pushes further along the direction the label adds. The paper writes the same combination as
(1 + w) eps_cond - w eps_uncond (its Eq. 6), so w = s - 1; ``diffusers`` calls s ``guidance_scale``.
"""

from __future__ import annotations

import math

import torch


def drop_labels(y: torch.Tensor, u: torch.Tensor, p_uncond: float, null_label: int) -> torch.Tensor:
    """The labels a training step shows: each ``y[i]`` replaced by ``null_label`` where ``u[i] < p_uncond``, with
    ``u ~ U[0, 1)`` drawn per example (so each label is dropped with probability ``p_uncond``)."""
    return torch.where(u < p_uncond, torch.full_like(y, null_label), y)


def guide(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """The guided noise estimate, eps_uncond + scale * (eps_cond - eps_uncond)."""
    return eps_uncond + scale * (eps_cond - eps_uncond)


def check_label(label, model) -> None:
    """A label a sampler may ask ``model`` for: an int in [0, num_classes), or a tensor of them."""
    num_classes = getattr(model, "num_classes", 0)
    if not num_classes:
        raise ValueError("label/guidance need a class-conditional model (UNet(num_classes=10), trained with labels); "
                         "this model is unconditional")
    values = label.flatten().tolist() if isinstance(label, torch.Tensor) else [label]
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < num_classes:
            raise ValueError(f"label={value!r} is not allowed; this model draws labels 0..{num_classes - 1}")


def check_labels(labels: torch.Tensor | None, model, n: int) -> torch.Tensor | None:
    """Training labels for ``model``: None for an unconditional model, ``[n]`` integers in [0, num_classes) for a
    conditional one (``n`` examples). Returns them as int64."""
    num_classes = getattr(model, "num_classes", 0)
    if labels is None:
        if num_classes:
            raise ValueError(f"this model is class-conditional (num_classes={num_classes}); give the labels of the "
                             f"data too (Trainer(..., labels=y), y of shape [{n}])")
        return None
    if not num_classes:
        raise ValueError("labels were given, but the model is unconditional; build it with UNet(num_classes=10) to "
                         "train it on labels")
    if not isinstance(labels, torch.Tensor) or labels.dtype.is_floating_point or labels.dtype == torch.bool \
            or labels.shape != (n,):
        got = getattr(labels, "dtype", type(labels).__name__), list(getattr(labels, "shape", []))
        raise ValueError(f"labels must be an integer tensor of shape [{n}], one per example; got {got[0]} of "
                         f"shape {got[1]}")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        raise ValueError(f"labels run from {low} to {high}; this model takes 0..{num_classes - 1}")
    return labels.long()


def check_guidance(scale) -> None:
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale < 0:
        raise ValueError(f"guidance={scale!r} is not allowed; give a number >= 0 (0: ignore the label, 1: the "
                         f"conditional model, larger: follow the label more)")


class Guided:
    """``model`` as a plain eps-model ``(x_t, t) -> eps_hat`` for the samplers, guided towards ``label`` with
    ``scale``: each call is one forward pass over the batch twice, with the label and with ``null_label``. At scale
    1 the guided estimate is the conditional one and at 0 the unconditional one, so there one pass over the batch
    alone gives it. (``diffusers`` pipelines make one pass at every ``guidance_scale`` up to 1 and return the
    conditional estimate there, at 0 too; this class keeps the formula's unconditional estimate at 0.)"""

    def __init__(self, model, label, scale: float):
        check_label(label, model)
        check_guidance(scale)
        self.model, self.scale, self.label = model, float(scale), label
        self._labels: torch.Tensor | None = None  # [y, null] (or one of them), made once for the batch and device

    def labels(self, batch: int, device) -> torch.Tensor:
        """The labels of one call: ``[y, null]`` for the two passes, ``y`` alone at scale 1, ``null`` at scale 0."""
        if self._labels is None or self._labels.device != device or \
                self._labels.shape[0] != (batch if self.scale in (0.0, 1.0) else 2 * batch):
            y = torch.as_tensor(self.label, dtype=torch.long).expand(batch)
            null = torch.full_like(y, self.model.null_label)
            self._labels = (y if self.scale == 1.0 else null if self.scale == 0.0 else torch.cat([y, null])).to(device)
        return self._labels

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        labels = self.labels(x_t.shape[0], x_t.device)
        if self.scale in (0.0, 1.0):  # guide(eps_cond, eps_uncond, 1) is eps_cond; at 0, eps_uncond
            return self.model(x_t, t, labels)
        eps_cond, eps_uncond = self.model(torch.cat([x_t, x_t]), torch.cat([t, t]), labels).chunk(2)
        return guide(eps_cond, eps_uncond, self.scale)
