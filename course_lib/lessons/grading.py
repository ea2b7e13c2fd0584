"""How the notebooks' ``check_...`` functions grade an exercise: they print a verdict, they never raise.

A wrong answer gets hints in tiers, counted per exercise, so that a student who is close is not handed the
formula at once:

1. the first failure says *what* is wrong (a shape, ``alpha`` where ``alpha_bar`` belongs, a missing square
   root, a broadcast that works on images but not on 2-D points), without the formula;
2. the second failure adds a hint: the idea to use, never the solution's code;
3. from the third on, it also names the reference to read (the library's version, or the figure to look at).

An answer computed another way (float64, log space, another order of operations) passes: answers are
compared in float64 with a tolerance. Student stubs (``raise NotImplementedError``, ``answer = None``)
get a "not yet", never a raw exception.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable

import torch

attempts: Counter[str] = Counter()  # failed attempts per exercise in this kernel
_current: list[str] = []  # the exercise being graded (set by ``graded``)


def report(ok: bool, success: str, diagnosis: str, formula: str = "", reference: str = "") -> None:
    """Print the verdict for the exercise being graded. Returns nothing, so a cell shows only the message.

    ``diagnosis`` names what is wrong without giving the answer; ``formula`` (a hint: the idea, not code) is
    added from the second failed attempt on, and ``reference`` (where the library's version lives) from the third.
    """
    exercise = _current[-1] if _current else "exercise"
    if ok:
        attempts.pop(exercise, None)
        print(f"✅ Correct! {success}")
        return
    attempts[exercise] += 1
    n = attempts[exercise]
    lines = [f"❌ Not yet. {diagnosis}"]
    if n >= 2 and formula:
        lines.append(f"   Hint: {formula}")
    elif formula:
        lines.append("   (Run the check again after your next try: a second miss adds a hint.)")
    if n >= 3:
        lines.append("   Read " + (reference or "the reference") + ".")
    print("\n".join(lines))


def graded(check: Callable) -> Callable:
    """Decorate a ``check_...`` function: it counts attempts under its own name, and any exception raised by
    the student's code becomes a "not yet" that names it."""

    @functools.wraps(check)
    def wrapper(*args, **kwargs):
        _current.append(check.__name__)
        try:
            if args and args[0] is None:
                return report(False, "", "the answer is still `None`: replace the TODO with your code and run "
                              "that cell before this one.")
            return check(*args, **kwargs)
        except NotImplementedError:
            return report(False, "", "replace the `raise NotImplementedError` (the TODO) with your code.")
        except Exception as err:  # the student's code failed: say how, do not crash the notebook
            return report(False, "", f"your code raised {type(err).__name__}: {err}")
        finally:
            _current.pop()

    return wrapper


def answer_text(prediction) -> str:
    """A written prediction as plain text: surrounding spaces and quotes dropped, lower case, so that
    ``"'Small '"`` and ``"small"`` read alike."""
    return str(prediction).strip().strip("'\"").strip().lower()


def as_float64(value) -> torch.Tensor | None:
    """``value`` as a float64 tensor, or None when it is not numbers (a list of tensors and NumPy arrays work)."""
    try:
        return torch.as_tensor(value).detach().to(torch.float64).cpu()
    except (TypeError, ValueError, RuntimeError):
        try:
            return torch.stack([torch.as_tensor(v) for v in value]).to(torch.float64)
        except Exception:
            return None


def diagnose(got, want: torch.Tensor, mistakes: dict[str, torch.Tensor] | None = None,
             atol: float = 1e-5, rtol: float = 1e-4) -> str | None:
    """None when ``got`` matches ``want``; otherwise one sentence saying what differs.

    ``mistakes`` maps a description of a common mistake (``"you used alpha_t where alpha_bar_t belongs"``) to
    the value that mistake produces; the first one ``got`` matches is the diagnosis. Shapes are checked before
    values, NaNs before numbers, and a constant factor is named.
    """
    g, w = as_float64(got), as_float64(want)
    if g is None:
        return f"expected a tensor of shape {tuple(want.shape)}, got {type(got).__name__}."
    if g.shape != w.shape:
        return f"the shape is {tuple(g.shape)}, expected {tuple(w.shape)}."
    if not torch.isfinite(g).all():
        return "the answer contains NaN or inf values."
    if torch.allclose(g, w, atol=atol, rtol=rtol):
        return None
    for description, value in (mistakes or {}).items():
        if torch.allclose(g, as_float64(value), atol=atol, rtol=rtol):
            return description
    scale = (g * w).sum() / (w * w).sum().clamp_min(1e-300)
    if w.abs().max() > 0 and torch.allclose(g, scale * w, atol=atol, rtol=rtol):
        return f"the answer is the expected one times a constant ({scale.item():.4g})."
    worst = (g - w).abs().argmax().item()
    return (f"the values differ (the largest difference, {(g - w).abs().max().item():.3g}, is at flat index "
            f"{worst}).")
