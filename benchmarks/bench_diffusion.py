"""Benchmark of the course's diffusion stack on this machine's CPU (not a timed test).

    python benchmarks/bench_diffusion.py [--budget 60] [--threads 2]

Side by side, in one run:
1. training throughput (images/s, batch 128, 8x8 digits) of the default ``course_lib.UNet``
   and of ``diffusers.UNet2DModel`` at about the same parameter count;
2. the digit score (Fréchet distance, with its floor) after ``--budget`` seconds of training each;
3. time to sample 500 digits with DDPM (1000 steps) and DDIM (50, 20, 10 steps), and their scores.
Writes benchmarks/results/diffusion.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from torch import nn

from course_lib import DDIMSampler, DDPMSampler, NoiseSchedule, UNet, count_parameters
from course_lib.data import load_digits
from course_lib.metrics import digit_quality
from course_lib.trainer import TrainConfig, Trainer


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


def throughput(model, steps=20, batch=128) -> float:
    x, t = torch.randn(batch, 1, 8, 8), torch.randint(0, 1000, (batch,))
    opt = torch.optim.AdamW(model.parameters())
    for i in range(steps + 3):
        if i == 3:
            start = time.perf_counter()
        loss = (model(x, t) - x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * batch / (time.perf_counter() - start)


def sample_and_score(model, sampler, n=500):
    start = time.perf_counter()
    x = sampler.sample(model, (n, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    seconds = time.perf_counter() - start
    return seconds, digit_quality(x)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=60.0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    schedule, data = NoiseSchedule.make("linear", 1000), load_digits()
    results = {"machine": f"{platform.processor() or platform.machine()}, {args.threads} threads",
               "torch": torch.__version__, "models": {}, "sampling": {}}
    trained = {}
    for name, factory in [("course_lib UNet", UNet), ("diffusers UNet2DModel", DiffusersEps)]:
        torch.manual_seed(0)
        model = factory()
        ips = throughput(model)
        torch.manual_seed(0)
        trainer = Trainer(factory(), schedule, data, TrainConfig(steps=10**9, time_budget_s=args.budget),
                          device="cpu", progress=False)
        trainer.train()
        seconds, q = sample_and_score(trainer.ema_model.eval(), DDIMSampler(schedule, 50, clip_x0=True))
        results["models"][name] = {"params": count_parameters(model), "train_images_per_s": round(ips),
                                   "steps_in_budget": trainer.step, "fd_ddim50": round(q["fd"], 1),
                                   "floor": round(q["floor"], 1), "ceiling": round(q["ceiling"], 1)}
        trained[name] = trainer.ema_model.eval()
        print(name, results["models"][name], flush=True)
    ours = trained["course_lib UNet"]
    for label, sampler in [("DDPM 1000", DDPMSampler(schedule, clip_x0=True)),
                           *[(f"DDIM {s}", DDIMSampler(schedule, s, clip_x0=True)) for s in (50, 20, 10)]]:
        seconds, q = sample_and_score(ours, sampler)
        results["sampling"][label] = {"seconds_500": round(seconds, 2), "fd": round(q["fd"], 1),
                                      "floor": round(q["floor"], 1)}
        print(label, results["sampling"][label], flush=True)
    out = Path(__file__).parent / "results" / "diffusion.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print("\n| model | params | train img/s | steps in budget | FD (DDIM-50) | floor |\n|---|---|---|---|---|---|")
    for name, r in results["models"].items():
        print(f"| {name} | {r['params']:,} | {r['train_images_per_s']} | {r['steps_in_budget']} | "
              f"{r['fd_ddim50']} | {r['floor']} |")
    print("\n| sampler | s / 500 digits | FD | floor |\n|---|---|---|---|")
    for name, r in results["sampling"].items():
        print(f"| {name} | {r['seconds_500']} | {r['fd']} | {r['floor']} |")


if __name__ == "__main__":
    main()
