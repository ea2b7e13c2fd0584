"""Training and sampling speed of the course's U-Net on one device (not a timed test).

    python benchmarks/bench_training_speed.py --device cuda [--seconds 5] [--compile]
    python benchmarks/bench_training_speed.py --device cpu --threads 2

For widths 16 (batch 128) and 64 (batch 256): steps/s and images/s of a bare loop (forward, backward, fused AdamW,
nothing else) and of ``course_lib.Trainer`` (EMA, clipping, per-t statistics, mixed precision on CUDA), each
timed for ``--seconds`` after a warm-up; and DDIM-50 sampling, images/s. The trainer's overhead is its time per
step over the bare loop's. Writes benchmarks/results/training_speed_<device>.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from course_lib import DDIMSampler, NoiseSchedule, UNet
from course_lib.data import load_digits
from course_lib.trainer import TrainConfig, Trainer

CONFIGS = ((16, 128), (64, 256))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(step, device, seconds: float, warmup: int = 10) -> float:
    """Steps per second of ``step()`` over about ``seconds`` (after ``warmup`` calls), synchronised at both ends."""
    for _ in range(warmup):
        step()
    sync(device)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(10):
            step()
        n += 10
        sync(device)
    return n / (time.perf_counter() - start)


def bare_loop(width, batch, device, seconds, compile_):
    torch.manual_seed(0)
    model = UNet(base_channels=width).to(device)
    net = torch.compile(model) if compile_ else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=device.type in ("cuda", "cpu"))
    data = load_digits(split="train").to(device)
    schedule = NoiseSchedule.make("linear", 1000)
    ab = schedule.alpha_bar.float().to(device)
    gen = torch.Generator(device=device).manual_seed(0)
    use_amp = device.type == "cuda"

    def step():
        x0 = data[torch.randint(0, len(data), (batch,), generator=gen, device=device)]
        t = torch.randint(0, 1000, (batch,), generator=gen, device=device)
        eps = torch.randn(x0.shape, generator=gen, device=device)
        a = ab[t][:, None, None, None]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            loss = (net(a.sqrt() * x0 + (1 - a).sqrt() * eps, t).float() - eps).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return timed(step, device, seconds)


def trainer_loop(width, batch, device, seconds, compile_):
    torch.manual_seed(0)
    trainer = Trainer(UNet(base_channels=width), NoiseSchedule.make("linear", 1000), load_digits(split="train"),
                      TrainConfig(batch_size=batch, compile=compile_, log_every=25), device=device, progress=False)

    def step():
        trainer._train_step()
        if trainer.step % trainer.config.log_every == 0:
            trainer._flush()

    return timed(step, device, seconds)


def sampling(width, device, n=1000):
    torch.manual_seed(0)
    model = UNet(base_channels=width).to(device).eval()
    sampler = DDIMSampler(NoiseSchedule.make("linear", 1000), 50)
    sampler.sample(model, (n, 1, 8, 8), device=device)
    sync(device)
    start = time.perf_counter()
    sampler.sample(model, (n, 1, 8, 8), device=device)
    sync(device)
    return n / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--compile", action="store_true", help="also time torch.compile'd variants")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = (torch.cuda.get_device_name() if device.type == "cuda"
            else f"{platform.machine()} CPU, {args.threads} threads")
    rows = []
    for width, batch in CONFIGS:
        for compile_ in ((False, True) if args.compile else (False,)):
            bare = bare_loop(width, batch, device, args.seconds, compile_)
            tr = trainer_loop(width, batch, device, args.seconds, compile_)
            row = {"width": width, "batch": batch, "compile": compile_, "bare_steps_s": round(bare, 1),
                   "trainer_steps_s": round(tr, 1), "trainer_images_s": round(tr * batch),
                   "trainer_over_bare": round(bare / tr, 2)}
            rows.append(row)
            print(row, flush=True)
    samp = {w: round(sampling(w, device)) for w, _ in CONFIGS}
    print("DDIM-50 images/s:", samp)
    out = Path(args.out or Path(__file__).parent / "results" / f"training_speed_{device.type}.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"device": name, "torch": torch.__version__, "rows": rows,
                               "ddim50_images_per_s": samp}, indent=1) + "\n")
    print("\n| width | batch | compile | bare loop steps/s | trainer steps/s | trainer images/s | bare / trainer |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['width']} | {r['batch']} | {r['compile']} | {r['bare_steps_s']} | {r['trainer_steps_s']} | "
              f"{r['trainer_images_s']} | {r['trainer_over_bare']} |")


if __name__ == "__main__":
    main()
