"""Benchmark of the course's diffusion stack on one device (not a timed test).

    python benchmarks/bench_diffusion.py [--device cpu] [--threads 2] [--budget 60] [--seconds 5]
    python benchmarks/bench_diffusion.py --device cuda [--notebooks]

In one run:
1. speed of a training step at widths 16 (batch 128) and 64 (batch 256), steps/s and images/s: a bare loop
   (forward, backward, fused AdamW, nothing else), the same loop captured as one CUDA graph (CUDA only), and
   ``course_lib.Trainer`` (EMA, clipping, per-t statistics; on CUDA mixed precision and its captured step, and
   its eager step beside it); DDIM-50 sampling, images/s;
2. training throughput (images/s, batch 128, 8x8 digits) of the default ``course_lib.UNet`` and of
   ``diffusers.UNet2DModel`` at about the same parameter count, and the digit score (Fréchet distance, with its
   floor) after ``--budget`` seconds of training each on the 1,000 training digits;
3. time to sample 500 digits with DDPM (1000 steps) and DDIM (50, 20, 10 steps), and their scores.
   Every score is against the 797 held-out digits, which the models never saw (as in the notebooks): scored
   against digits a model trained on, a model that memorised them would score as well as real data;
4. with ``--notebooks``: the time of the notebooks that train (03, 05, 06, 07) top to bottom on ``--device``,
   with the configuration they pick there.
Writes benchmarks/results/diffusion.json (CPU) or diffusion_<device>.json and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from functools import partial
from pathlib import Path

import torch
from torch import nn

from course_lib import DDIMSampler, DDPMSampler, NoiseSchedule, UNet, count_parameters
from course_lib.data import load_digits
from course_lib.metrics import digit_quality
from course_lib.trainer import TrainConfig, Trainer, amp_settings

ROOT = Path(__file__).resolve().parents[1]
SPEED_CONFIGS = ((16, 128), (64, 256))
GPU_NOTEBOOKS = ("03_residual_vs_skip", "05_training", "06_sampling", "07_residual_in_diffusion")


class DiffusersEps(nn.Module):
    """diffusers' UNet2DModel as a plain ``model(x_t, t) -> eps`` callable."""

    def __init__(self):
        super().__init__()
        from diffusers import UNet2DModel

        self.net = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(12, 24),
                               layers_per_block=1, norm_num_groups=4, down_block_types=("DownBlock2D", "DownBlock2D"),
                               up_block_types=("UpBlock2D", "UpBlock2D"))

    def forward(self, x, t):
        return self.net(x, t).sample


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def steps_per_second(step, device, seconds: float, warmup: int = 10) -> float:
    """Calls of ``step()`` per second over about ``seconds`` (after ``warmup`` calls), synchronised at both ends."""
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


def bare_step(width: int, batch: int, device: torch.device, graph: bool):
    """A training step with nothing around it (draws, loss, backward, fused AdamW); with ``graph``, everything
    after the draws is one CUDA graph (PyTorch's whole-network capture). Returns the step as a function."""
    torch.manual_seed(0)
    model = UNet(base_channels=width).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True, capturable=device.type == "cuda")
    data = load_digits(split="train").to(device)
    ab = NoiseSchedule.make("linear", 1000).alpha_bar.float().to(device)
    gen = torch.Generator(device=device).manual_seed(0)
    dtype = amp_settings(True, device)[1] if device.type == "cuda" else torch.float32
    idx = torch.empty(batch, dtype=torch.long, device=device)
    t = torch.empty(batch, dtype=torch.long, device=device)
    eps = torch.empty(batch, 1, 8, 8, device=device)

    def draw():
        torch.randint(0, len(data), (batch,), generator=gen, device=device, out=idx)
        torch.randint(0, 1000, (batch,), generator=gen, device=device, out=t)
        torch.randn(eps.shape, generator=gen, device=device, out=eps)

    def compute():
        x0, a = data[idx], ab[t][:, None, None, None]
        with torch.autocast(device.type, dtype=dtype, enabled=device.type == "cuda", cache_enabled=False):
            loss = (model(a.sqrt() * x0 + (1 - a).sqrt() * eps, t).float() - eps).pow(2).mean()
        loss.backward()
        opt.step()

    def eager():
        draw()
        opt.zero_grad(set_to_none=True)
        compute()

    if not graph:
        return eager
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):
        for _ in range(3):
            eager()
    torch.cuda.current_stream(device).wait_stream(stream)
    captured = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    draw()
    with torch.cuda.graph(captured):
        compute()

    def replay():
        draw()
        captured.replay()

    return replay


def trainer_step(width: int, batch: int, device: torch.device, cuda_graph: bool):
    torch.manual_seed(0)
    trainer = Trainer(UNet(base_channels=width), NoiseSchedule.make("linear", 1000), load_digits(split="train"),
                      TrainConfig(batch_size=batch, log_every=25, cuda_graph=cuda_graph), device=device,
                      progress=False)

    def step():
        trainer._train_step()
        if trainer.step % trainer.config.log_every == 0:
            trainer._flush()  # what ``train`` does at each log point

    return step


def ddim_images_per_second(width: int, device: torch.device, n: int = 1000) -> float:
    torch.manual_seed(0)
    model = UNet(base_channels=width).to(device).eval()
    sampler = DDIMSampler(NoiseSchedule.make("linear", 1000), 50)
    sampler.sample(model, (n, 1, 8, 8), device=device)
    sync(device)
    start = time.perf_counter()
    sampler.sample(model, (n, 1, 8, 8), device=device)
    sync(device)
    return n / (time.perf_counter() - start)


def speed(device: torch.device, seconds: float) -> list[dict]:
    """Section 1: bare loop (eager and captured) against the trainer, per width."""
    rows = []
    for width, batch in SPEED_CONFIGS:
        row = {"width": width, "batch": batch}
        variants = [("bare", partial(bare_step, width, batch, device, graph=False))]
        if device.type == "cuda":
            variants += [("bare_graph", partial(bare_step, width, batch, device, graph=True)),
                         ("trainer_eager", partial(trainer_step, width, batch, device, cuda_graph=False))]
        variants += [("trainer", partial(trainer_step, width, batch, device, cuda_graph=True))]
        for name, make in variants:
            row[f"{name}_steps_s"] = round(steps_per_second(make(), device, seconds), 1)
        row["trainer_images_s"] = round(row["trainer_steps_s"] * batch)
        fastest_bare = max(row.get("bare_graph_steps_s", 0.0), row["bare_steps_s"])
        row["fastest_bare_over_trainer"] = round(fastest_bare / row["trainer_steps_s"], 2)
        row["ddim50_images_s"] = round(ddim_images_per_second(width, device))
        rows.append(row)
        print(row, flush=True)
    return rows


def throughput(model, device, steps=20, batch=128) -> float:
    x, t = torch.randn(batch, 1, 8, 8, device=device), torch.randint(0, 1000, (batch,), device=device)
    opt = torch.optim.AdamW(model.parameters())
    for i in range(steps + 3):
        if i == 3:
            sync(device)
            start = time.perf_counter()
        loss = (model(x, t) - x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    sync(device)
    return steps * batch / (time.perf_counter() - start)


def sample_and_score(model, sampler, device, n=500):
    start = time.perf_counter()
    x = sampler.sample(model, (n, 1, 8, 8), generator=torch.Generator().manual_seed(0), device=device)
    sync(device)
    seconds = time.perf_counter() - start
    return seconds, digit_quality(x.cpu(), reference="test")  # the held-out digits: none of them was trained on


def quality(device: torch.device, budget: float) -> dict:
    """Sections 2 and 3: course U-Net against diffusers' at a wall-clock budget; samplers' time and score. The
    models train on the training split only; ``digit_quality`` scores against the held-out split."""
    schedule, data = NoiseSchedule.make("linear", 1000), load_digits(split="train")
    results, trained = {"models": {}, "sampling": {}}, {}
    for name, factory in [("course_lib UNet", UNet), ("diffusers UNet2DModel", DiffusersEps)]:
        torch.manual_seed(0)
        model = factory().to(device)
        ips = throughput(model, device)
        torch.manual_seed(0)
        trainer = Trainer(factory(), schedule, data, TrainConfig(steps=10**9, time_budget_s=budget),
                          device=device, progress=False)
        trainer.train()
        seconds, q = sample_and_score(trainer.ema_model.eval(), DDIMSampler(schedule, 50, clip_x0=True), device)
        results["models"][name] = {"params": count_parameters(model), "train_images_per_s": round(ips),
                                   "steps_in_budget": trainer.step, "fd_ddim50": round(q["fd"], 1),
                                   "floor": round(q["floor"], 1), "ceiling": round(q["ceiling"], 1)}
        trained[name] = trainer.ema_model.eval()
        print(name, results["models"][name], flush=True)
    ours = trained["course_lib UNet"]
    for label, sampler in [("DDPM 1000", DDPMSampler(schedule, clip_x0=True)),
                           *[(f"DDIM {s}", DDIMSampler(schedule, s, clip_x0=True)) for s in (50, 20, 10)]]:
        seconds, q = sample_and_score(ours, sampler, device)
        results["sampling"][label] = {"seconds_500": round(seconds, 2), "fd": round(q["fd"], 1),
                                      "floor": round(q["floor"], 1)}
        print(label, results["sampling"][label], flush=True)
    return results


def notebooks(device: torch.device) -> list[dict]:
    """Section 4: the training notebooks, top to bottom, on ``device`` (their GPU configuration on a GPU)."""
    from bench_notebooks import run

    os.environ["COURSE_DEVICE"] = device.type
    rows = []
    for name in GPU_NOTEBOOKS:
        rows.append(run(ROOT / "notebooks" / f"{name}.ipynb"))
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2, as CI and Binder)")
    p.add_argument("--seconds", type=float, default=5.0, help="timing window of each speed row")
    p.add_argument("--budget", type=float, default=60.0, help="training seconds of each model in section 2")
    p.add_argument("--skip-quality", action="store_true", help="only the speed table (and notebooks)")
    p.add_argument("--notebooks", action="store_true", help="also time notebooks 03, 05, 06 and 07 on --device")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    machine = (torch.cuda.get_device_name(device) if device.type == "cuda"
               else f"{platform.processor() or platform.machine()}, {args.threads} threads")
    results = {"machine": machine, "torch": torch.__version__, "speed": speed(device, args.seconds)}
    if not args.skip_quality:
        results.update(quality(device, args.budget))
    if args.notebooks:
        results["notebooks"] = notebooks(device)
    out = ROOT / "benchmarks" / "results" / ("diffusion.json" if device.type == "cpu"
                                             else f"diffusion_{device.type}.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{machine}, torch {torch.__version__}")
    keys = [k for k in results["speed"][0] if k not in ("width", "batch")]
    print("\n| width | batch | " + " | ".join(keys) + " |\n|" + "---|" * (len(keys) + 2))
    for r in results["speed"]:
        print(f"| {r['width']} | {r['batch']} | " + " | ".join(str(r[k]) for k in keys) + " |")
    if "models" in results:
        print("\n| model | params | train img/s | steps in budget | FD (DDIM-50) | floor |\n|---|---|---|---|---|---|")
        for name, r in results["models"].items():
            print(f"| {name} | {r['params']:,} | {r['train_images_per_s']} | {r['steps_in_budget']} | "
                  f"{r['fd_ddim50']} | {r['floor']} |")
        print("\n| sampler | s / 500 digits | FD | floor |\n|---|---|---|---|")
        for name, r in results["sampling"].items():
            print(f"| {name} | {r['seconds_500']} | {r['fd']} | {r['floor']} |")
    for r in results.get("notebooks", []):
        print(f"| {r['notebook']} | {r['seconds']} s | {r['peak_rss_mb']} MB |")


if __name__ == "__main__":
    main()
