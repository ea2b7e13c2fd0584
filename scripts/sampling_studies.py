"""Re-create the multi-seed studies shipped inside the package (course_lib/results/sampling_studies.json).

    python scripts/sampling_studies.py [--part ema|ddpm|all]      (about 8 minutes on 2 CPU cores)

Two experiments whose conclusions notebooks 05 and 06 draw, too slow to repeat over seeds live:
- ema (notebook 05): the 500-step digits run of the notebook (U-Net width 16, constant learning rate 2e-3,
  EMA decay 0.995, the 1,000 "train" digits) for 5 training seeds; FD of 300 DDIM-50 samples (sampling seed =
  training seed) from the raw and from the EMA weights.
- ddpm (notebook 06): the shipped checkpoint (trained on the "train" digits) sampled with DDPM (1000 steps) and
  DDIM (50 steps) for 5 sampling seeds, 300 digits each.

Every FD is against the 797 held-out "test" digits. Each row stores its own floor, 300 real "train" digits drawn
with the row's seed against the same held-out digits, so the rows show how much the floor moves between draws.
"""

import argparse
import json
import platform

import torch

from course_lib.checkpoints import load_denoiser
from course_lib.lessons.sample_quality import ddpm_vs_ddim
from course_lib.lessons.sampling import RESULTS
from course_lib.lessons.training import ema_study

SEEDS = (0, 1, 2, 3, 4)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    p.add_argument("--part", choices=["ema", "ddpm", "all"], default="all")
    args = p.parse_args()
    out = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    out["meta"] = {"seeds": list(SEEDS), "threads": torch.get_num_threads(), "torch": torch.__version__,
                   "machine": platform.machine()}
    if args.part in ("ema", "all"):
        out["ema"] = ema_study(SEEDS, steps=500, width=16, n=300)
        print("ema (seed, raw, ema, floor):", [(r["seed"], round(r["raw"], 1), round(r["ema"], 1), round(r["floor"], 1))
                                              for r in out["ema"]], flush=True)
    if args.part in ("ddpm", "all"):
        model, schedule, _ = load_denoiser(None)
        out["ddpm_vs_ddim"] = ddpm_vs_ddim(model, schedule, SEEDS, n=300)
        print("ddpm vs ddim (seed, ddpm, ddim, floor):", [
            (r["seed"], round(r["ddpm"], 1), round(r["ddim"], 1), round(r["floor"], 1)) for r in out["ddpm_vs_ddim"]])
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
