"""course_lib.study_runner: studies on a local Ray instance, resumable, with rows in the study's format."""

import json
import sys

import pytest

pytest.importorskip("ray")

import ray

from course_lib.__main__ import main
from course_lib.lessons.vanishing_gradients import degradation_curve
from course_lib.study import load_study
from course_lib.study_runner import STUDIES, Study, get_study, run_study

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the fake runs below travel to the workers


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             object_store_memory=80 * 2**20)
    yield
    ray.shutdown()


def logged_run(seed, budgets, device, kind, log, fail_seed=None):
    """A fake run: appends (kind, seed) to ``log`` and fails once for kind "a" with ``fail_seed`` (a run killed
    half-way)."""
    from pathlib import Path

    with Path(log).open("a") as f:
        f.write(json.dumps([kind, seed]) + "\n")
    marker = Path(log).with_suffix(f".failed-{kind}{seed}")
    if (kind, seed) == ("a", fail_seed) and not marker.exists():
        marker.touch()
        raise RuntimeError("killed")
    return [{"steps": b, "score": 10 * seed + b + len(kind), "device": device} for b in budgets]


def calls(log):
    return [tuple(json.loads(line)) for line in log.read_text().splitlines()]


def test_a_two_seed_study_of_real_runs_writes_its_rows(tmp_path):
    study = Study("tiny", degradation_curve, [{"shortcut": "plain", "init": "kaiming", "depth": 4},
                                             {"shortcut": "residual", "init": "kaiming", "depth": 4}],
                  seeds=[0, 1], budgets=[3, 6], out=tmp_path / "tiny.json", meta={"what": "test"},
                  required=("train_loss",))
    rows = run_study(study, progress=False)
    assert len(rows) == 8
    assert {(r["shortcut"], r["seed"], r["steps"]) for r in rows} == {
        (s, seed, b) for s in ("plain", "residual") for seed in (0, 1) for b in (3, 6)}
    for r in rows:
        assert set(r) >= {"shortcut", "init", "depth", "seed", "steps", "train_loss", "test_loss", "accuracy",
                          "grad_ratio"}
        assert r["train_loss"] > 0 and 0 <= r["accuracy"] <= 1
    # the same run outside Ray gives the same row: the runner only schedules
    alone = degradation_curve(seed=1, shortcut="residual", init="kaiming", depth=4, budgets=[3, 6])
    ray_row = next(r for r in rows if (r["shortcut"], r["seed"], r["steps"]) == ("residual", 1, 6))
    assert ray_row["train_loss"] == alone[-1]["train_loss"]
    meta, saved = load_study(study.out)
    assert meta["what"] == "test" and meta["study"] == "tiny" and saved == rows


def test_an_interrupted_study_resumes_without_training_a_finished_run_again(tmp_path):
    log = tmp_path / "calls.log"
    study = Study("fake", logged_run, [{"kind": "a"}, {"kind": "bb"}], seeds=[0, 1], budgets=[1, 2],
                  out=tmp_path / "fake.json", kwargs={"log": str(log), "fail_seed": 1})
    with pytest.raises(RuntimeError, match=r"1 of 4 runs failed .*seed 1.*killed.*run the study again"):
        run_study(study, progress=False)
    kept = load_study(study.out)[1]
    assert {(r["kind"], r["seed"]) for r in kept} == {("a", 0), ("bb", 0), ("bb", 1)}
    rows = run_study(study, progress=False)
    assert sorted(calls(log)) == sorted([("a", 0), ("a", 1), ("bb", 0), ("bb", 1), ("a", 1)])  # only the lost one again
    assert {(r["kind"], r["seed"]) for r in rows} == {("a", 0), ("a", 1), ("bb", 0), ("bb", 1)}
    assert all(r["device"] == "cpu" for r in rows) and len(rows) == 8
    n = len(calls(log))
    run_study(study, progress=False)  # all finished: nothing runs
    assert len(calls(log)) == n


def test_a_longer_budget_or_a_missing_field_makes_a_run_unfinished(tmp_path):
    log = tmp_path / "calls.log"
    out = tmp_path / "s.json"
    short = Study("s", logged_run, [{"kind": "a"}], seeds=[0], budgets=[1, 2], out=out, kwargs={"log": str(log)})
    run_study(short, progress=False)
    longer = Study("s", logged_run, [{"kind": "a", "budgets": [1, 2, 4]}], seeds=[0], budgets=[1, 2], out=out,
                   kwargs={"log": str(log)})
    rows = run_study(longer, progress=False)
    assert sorted(r["steps"] for r in rows) == [1, 2, 4] and "budgets" not in rows[0]
    needs = Study("s", logged_run, [{"kind": "a"}], seeds=[0], budgets=[1, 2], out=out, kwargs={"log": str(log)},
                  required=("score", "absent"))
    assert not needs.finished(rows, {"kind": "a"}, 0, [1, 2])
    assert longer.finished(rows, {"kind": "a"}, 0, [1, 2, 4])
    own = Study("s", logged_run, [{"kind": "a", "required": ("absent",)}, {"kind": "b"}], seeds=[0], budgets=[1, 2],
                out=out, kwargs={"log": str(log)})  # a field only one variant must hold
    assert not own.finished(rows, {"kind": "a"}, 0, [1, 2]) and own.tasks()[0][0] == {"kind": "a"}
    assert len(calls(log)) == 2


def test_bad_arguments_get_clear_errors(tmp_path):
    study = Study("s", logged_run, [{"kind": "a"}], seeds=[0], budgets=[1], out=tmp_path / "s.json",
                  kwargs={"log": str(tmp_path / "l")})
    with pytest.raises(ValueError, match="gpus_per_run"):
        run_study(study, gpus_per_run=2.0)
    with pytest.raises(ValueError, match="threads"):
        run_study(study, threads=0)
    with pytest.raises(ValueError, match=r"study=.nope.*capstone"):
        get_study("nope")


def test_every_shipped_study_is_defined_and_names_its_runs():
    for name in STUDIES:
        study = get_study(name)
        assert study.name == name and study.out.name.endswith(".json")
        tasks = study.tasks()
        assert len(tasks) == len(study.variants) * len(study.seeds) and len(study.seeds) >= 5
        meta, rows = load_study(study.out)  # the shipped file holds every run of its study
        assert meta["study"] == name if "study" in meta else True
        assert all(study.finished(rows, *t) for t in tasks), f"{name}: unfinished runs in {study.out}"


def test_the_cli_says_when_ray_is_missing(monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    assert main(["study", "degradation", "--seeds", "99", "--out", "/tmp/never-written.json"]) == 2
    assert "pip install 'course-lib[studies]'" in capsys.readouterr().err


def test_a_cluster_address_goes_to_ray_and_a_local_instance_is_sized_by_jobs(monkeypatch):
    from course_lib import study_runner

    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: calls.append(kw))
    study_runner._start_ray("ray://head:10001", None)
    study_runner._start_ray(None, 3)
    assert calls[0]["address"] == "ray://head:10001" and "num_cpus" not in calls[0]
    assert calls[1]["num_cpus"] == 3 and "address" not in calls[1]
