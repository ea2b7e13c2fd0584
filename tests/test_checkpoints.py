"""Issue 12: checkpoint files, their temporaries and their errors."""

import os
import signal
import subprocess
import sys

import pytest
import torch

from course_lib.checkpoints import CheckpointError, load_checkpoint, load_denoiser, save_checkpoint


def test_temporary_of_a_killed_save_is_removed_by_the_next(tmp_path):
    path = tmp_path / "x.pt"
    code = ("import os, signal, torch\nfrom course_lib.checkpoints import save_checkpoint\nreal = torch.save\n"
            "def save_then_die(obj, f):\n    real(obj, f); f.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
            f"torch.save = save_then_die\nsave_checkpoint({{'a': torch.zeros(1000)}}, {str(path)!r})\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".x.pt.") and left[0].endswith(".tmp"), left
    save_checkpoint({"a": torch.ones(2)}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pt"]


def test_temporary_of_a_live_writer_is_kept(tmp_path):
    live = tmp_path / f".x.pt.{os.getppid()}.abc.tmp"  # our parent process is alive
    live.write_bytes(b"partial")
    save_checkpoint({"a": torch.ones(2)}, tmp_path / "x.pt")
    assert live.exists()


def test_state_dict_files_still_load_and_errors_name_the_file(tmp_path):
    torch.save({"w": torch.zeros(2)}, tmp_path / "sd.pt")
    assert torch.equal(load_checkpoint(tmp_path / "sd.pt")["w"], torch.zeros(2))  # e.g. the metric's classifier
    with pytest.raises(CheckpointError, match=r"sd.pt is not a course_lib checkpoint: it lacks model, model_state"):
        load_denoiser(tmp_path / "sd.pt")
    torch.save({"model": {"kind": "gan", "config": {}}, "model_state": {}, "schedule": {}, "data_shape": [2]},
               tmp_path / "gan.pt")
    with pytest.raises(CheckpointError, match=r"gan.pt describes an unknown model"):
        load_denoiser(tmp_path / "gan.pt")
    torch.save({"model": {"kind": "mlp", "config": {"hidden": 8}}, "model_state": {"x": torch.zeros(1)},
                "schedule": {"name": "linear", "T": 10}, "data_shape": [2]}, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match=r"mismatch.pt does not match its model description"):
        load_denoiser(tmp_path / "mismatch.pt", ema=False)


def test_random_bytes_never_escape_as_a_raw_error(tmp_path):
    for seed in range(30):
        path = tmp_path / f"r{seed}.pt"
        path.write_bytes(bytes(torch.randint(0, 256, (3000,), generator=torch.Generator().manual_seed(seed))
                               .to(torch.uint8).tolist()))
        with pytest.raises(CheckpointError, match=rf"checkpoint {path} "):
            load_checkpoint(path)
