import subprocess
import sys

import pytest
import torch

from course_lib.__main__ import main


def test_train_then_sample_2d(tmp_path, capsys):
    ckpt = tmp_path / "moons.pt"
    assert main(["train", "--dataset", "moons", "--steps", "20", "--T", "50", "--base-channels", "8",
                 "--device", "cpu", "--out", str(ckpt)]) == 0
    assert "trained 20 steps" in capsys.readouterr().out
    assert main(["sample", "--checkpoint", str(ckpt), "--sampler", "ddpm", "--n", "10", "--out",
                 str(tmp_path / "s")]) == 0
    x = torch.load(tmp_path / "s.pt", weights_only=True)
    assert x.shape == (10, 2) and (tmp_path / "s.png").stat().st_size > 0


def test_train_resume_and_sample_images(tmp_path):
    ckpt = tmp_path / "d.pt"
    args = ["train", "--dataset", "digits", "--base-channels", "8", "--T", "20", "--batch-size", "8",
            "--device", "cpu", "--skip", "add", "--no-residual", "--out", str(ckpt)]
    assert main([*args, "--steps", "2"]) == 0
    assert main([*args, "--steps", "4", "--resume"]) == 0
    assert torch.load(ckpt, weights_only=True)["step"] == 4  # with --resume, --steps is the new total
    assert main(["sample", "--checkpoint", str(ckpt), "--steps", "5", "--n", "6", "--out", str(tmp_path / "g")]) == 0
    x = torch.load(tmp_path / "g.pt", weights_only=True)
    assert x.shape == (6, 1, 8, 8) and x.min() >= -1 and x.max() <= 1
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"


def test_help_and_bad_arguments(tmp_path):
    for cmd in (["--help"], ["train", "--help"], ["sample", "--help"]):
        out = subprocess.run([sys.executable, "-m", "course_lib", *cmd], capture_output=True, text=True)
        assert out.returncode == 0 and "usage: python -m course_lib" in out.stdout
    out = subprocess.run([sys.executable, "-m", "course_lib", "train", "--skip", "residual", "--out", "x.pt"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "invalid choice: 'residual'" in out.stderr
    out = subprocess.run([sys.executable, "-m", "course_lib", "sample", "--steps", "0", "--out", "x"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "must be a positive integer, got 0" in out.stderr


def test_missing_checkpoint_and_bad_size_are_clear(tmp_path, capsys):
    assert main(["sample", "--checkpoint", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", "--dataset", "digits", "--channel-mults", "1", "2", "2", "2", "2", "--out",
                 str(tmp_path / "x.pt")]) == 2
    assert "image size 8x8 is not divisible by 2**depth = 16" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["digits_unet.pt"])
def test_shipped_checkpoint_samples_near_the_floor(name):
    from course_lib import DDIMSampler
    from course_lib.checkpoints import SHIPPED, load_denoiser
    from course_lib.metrics import digit_quality

    assert (SHIPPED / name).stat().st_size < 3_000_000
    model, schedule, _ = load_denoiser()
    x = DDIMSampler(schedule, 20, clip_x0=True).sample(model, (300, 1, 8, 8),
                                                     generator=torch.Generator().manual_seed(0))
    q = digit_quality(x)
    assert q["fd"] < 3 * q["floor"], q
