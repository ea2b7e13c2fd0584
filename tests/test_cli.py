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


def exit_code(argv) -> int:
    """``main(argv)``'s exit status, where argparse exits (help, a bad argument) or main returns."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


def test_help_and_bad_arguments(capsys):
    # the module runs as a program (one interpreter: the rest calls main in this one, as ``-m`` does)
    out = subprocess.run([sys.executable, "-m", "course_lib", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "usage: python -m course_lib" in out.stdout
    for cmd in (["train", "--help"], ["sample", "--help"]):
        assert exit_code(cmd) == 0 and "usage: python -m course_lib" in capsys.readouterr().out
    assert exit_code(["train", "--skip", "residual", "--out", "x.pt"]) == 2
    assert "invalid choice: 'residual'" in capsys.readouterr().err
    assert exit_code(["sample", "--steps", "0", "--out", "x"]) == 2
    assert "must be a positive integer, got 0" in capsys.readouterr().err


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


# ----------------------------------------------------------------------------- issue 12

MOONS = ["train", "--dataset", "moons", "--T", "50", "--base-channels", "8", "--device", "cpu", "--quiet"]


def no_training(monkeypatch):
    from course_lib.trainer import Trainer

    def fail(self, *a, **k):
        raise AssertionError("training started")

    monkeypatch.setattr(Trainer, "train", fail)


@pytest.mark.parametrize("where", ["folder", "under a file", "under /proc"])
def test_unusable_out_fails_before_training(where, tmp_path, capsys, monkeypatch):
    no_training(monkeypatch)
    (tmp_path / "f.txt").write_text("x")
    out = {"folder": tmp_path, "under a file": tmp_path / "f.txt" / "x.pt", "under /proc": "/proc/course_no/x.pt"}
    assert main([*MOONS, "--steps", "5", "--out", str(out[where])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "error:" in err and ("cannot write the checkpoint" in err or "exists" in err)


def test_existing_out_needs_resume_or_overwrite(tmp_path, capsys):
    ckpt = tmp_path / "run.pt"
    assert main([*MOONS, "--steps", "3", "--out", str(ckpt)]) == 0
    assert main([*MOONS, "--steps", "5", "--out", str(ckpt)]) == 2
    assert "--out " + str(ckpt) + " exists: add --resume" in capsys.readouterr().err
    assert torch.load(ckpt, weights_only=True)["step"] == 3, "the previous run is untouched"
    assert main([*MOONS, "--steps", "5", "--overwrite", "--out", str(ckpt)]) == 0
    assert torch.load(ckpt, weights_only=True)["step"] == 5
    assert main([*MOONS, "--resume", "--out", str(tmp_path / "none.pt")]) == 2
    assert "does not exist; leave --resume out" in capsys.readouterr().err


def test_resume_extends_applies_budget_and_lr_and_refuses_another_run(tmp_path, capsys):
    ckpt = tmp_path / "run.pt"
    assert main([*MOONS, "--steps", "6", "--out", str(ckpt)]) == 0
    assert main(["train", "--resume", "--steps", "10", "--lr", "0.0005", "--device", "cpu", "--quiet",
                 "--out", str(ckpt)]) == 0
    saved = torch.load(ckpt, weights_only=True)
    assert saved["step"] == 10 and saved["meta"]["dataset"] == "moons"
    assert saved["optimizer"]["param_groups"][0]["lr"] == 0.0005 == saved["config"]["lr"]
    capsys.readouterr()
    assert main(["train", "--resume", "--steps", "1000000", "--time-budget", "0.5", "--device", "cpu", "--quiet",
                 "--out", str(ckpt)]) == 0
    assert 10 < torch.load(ckpt, weights_only=True)["step"] < 1000000
    for option, value in (("--dataset", "circles"), ("--base-channels", "16"), ("--T", "100"), ("--seed", "3"),
                          ("--batch-size", "7"), ("--schedule", "cosine")):
        assert main(["train", "--resume", option, value, "--quiet", "--out", str(ckpt)]) == 2
        assert f"--resume: {option} {value} differs from the saved run's" in capsys.readouterr().err


def test_save_every(tmp_path, monkeypatch):
    import course_lib.trainer as trainer_module

    steps = []
    real = trainer_module.save_checkpoint
    monkeypatch.setattr(trainer_module, "save_checkpoint", lambda obj, p: (steps.append(obj["step"]), real(obj, p))[1])
    assert main([*MOONS, "--steps", "7", "--save-every", "3", "--out", str(tmp_path / "r.pt")]) == 0
    assert steps == [3, 6, 7]


def test_nan_loss_exits_1_with_the_last_good_state(tmp_path, capsys):
    ckpt = tmp_path / "nan.pt"
    assert main([*MOONS, "--steps", "300", "--lr", "1e6", "--out", str(ckpt)]) == 1
    err = capsys.readouterr().err
    step = torch.load(ckpt, weights_only=True)["step"]
    assert f"the last good state (step {step}) is saved to {ckpt}" in err and "try a lower lr" in err.lower()


@pytest.mark.parametrize("kind", ["random bytes", "json", "empty", "foreign dict", "tensor", "folder", "truncated"])
def test_broken_or_foreign_checkpoints_give_one_line(kind, tmp_path, capsys):
    import os

    path = tmp_path / "bad.pt"
    if kind == "random bytes":
        path.write_bytes(os.urandom(4000))
    elif kind == "json":
        path.write_text('{"model": 1}')
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "foreign dict":
        torch.save({"weights": torch.zeros(3)}, path)
    elif kind == "tensor":
        torch.save(torch.zeros(3), path)
    elif kind == "folder":
        path.mkdir()
    else:
        torch.save({"model": {"kind": "mlp", "config": {}}, "x": torch.zeros(1000)}, path)
        path.write_bytes(path.read_bytes()[:700])
    assert main(["sample", "--checkpoint", str(path), "--n", "2", "--quiet", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: checkpoint {path} "), err
    assert "weights_only" not in err and "Traceback" not in err
    assert main(["train", "--resume", "--quiet", "--out", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "weights_only" not in err


def test_sample_out_prefix_keeps_dots(tmp_path, capsys):
    ckpt = tmp_path / "m.pt"
    assert main([*MOONS, "--steps", "2", "--out", str(ckpt)]) == 0
    for name in ("run.v1", "run.v2", "plain.pt"):
        assert main(["sample", "--checkpoint", str(ckpt), "--n", "2", "--steps", "5", "--quiet",
                     "--out", str(tmp_path / name)]) == 0
    assert {"run.v1.pt", "run.v1.png", "run.v2.pt", "run.v2.png", "plain.pt", "plain.png"} <= {
        p.name for p in tmp_path.iterdir()}


def test_small_problems_are_refused_clearly(tmp_path, capsys, monkeypatch):
    no_training(monkeypatch)
    assert main([*MOONS, "--T", "1", "--out", str(tmp_path / "a.pt")]) == 2
    assert "--T 1 is not allowed; T must be at least 2" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["train", "--device", "cuda", "--out", str(tmp_path / "b.pt")]) == 2
        err = capsys.readouterr().err
        assert "--device='cuda' is not available" in err and "Traceback" not in err
    import course_lib.__main__ as cli

    def ctrl_c(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "load_dataset", ctrl_c)
    assert main([*MOONS, "--out", str(tmp_path / "c.pt")]) == 130


def test_help_shows_defaults_and_what_resume_keeps(capsys):
    from course_lib.__main__ import parser

    top = parser().format_help()
    assert "``" not in top
    with pytest.raises(SystemExit):
        parser().parse_args(["train", "--help"])
    text = capsys.readouterr().out
    assert "(default: None)" not in text and "Kept from the checkpoint" in " ".join(text.split())
    import re

    for block in re.split(r"\n  (?=--)", text.split("options:")[1])[1:]:
        name = block.split()[0]
        flag = name in ("--download", "--no-residual", "--conditional", "--resume", "--overwrite", "--quiet")
        assert flag or "default:" in block or "required" in block, f"{name} shows no default"


def _start(tmp_path, name):
    import os

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "course_lib", *MOONS, "--steps", "1000000", "--save-every", "20",
                             "--out", str(tmp_path / name)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


@pytest.mark.parametrize("sig, status", [("SIGTERM", 143), ("SIGINT", 130)])
def test_signals_save_the_state_and_exit_with_the_shell_status(sig, status, tmp_path):
    import signal
    import time

    path = tmp_path / "run.pt"
    proc = _start(tmp_path, "run.pt")
    deadline = time.time() + 60
    while not path.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert path.exists(), proc.stderr.read() if proc.poll() is not None else "no periodic save within 60 s"
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    step = torch.load(path, weights_only=True)["step"]
    assert step >= 20 and f"stopped by {sig} after {step} steps" in err and "continue with --resume" in err
    assert "Traceback" not in err
    assert main(["train", "--resume", "--steps", str(step + 2), "--quiet", "--out", str(path)]) == 0
    assert torch.load(path, weights_only=True)["step"] == step + 2
