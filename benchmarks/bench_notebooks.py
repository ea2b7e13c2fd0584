"""Time and peak memory of each notebook, run top to bottom as committed (not a timed test).

    python benchmarks/bench_notebooks.py [notebooks/0*.ipynb ...]

Runs each notebook in a fresh kernel with CI's settings (OMP_NUM_THREADS=2, CPU), samples the kernel
process's resident memory every 50 ms, and prints a Markdown table; results in
benchmarks/results/notebooks.json (a run of some notebooks replaces only their entries). Targets: about a minute
and under 1.5 GB per notebook.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from nbexec import notebook_client  # noqa: E402


def peak_rss_while(pid_getter, stop: threading.Event, out: list) -> None:
    peak = 0
    while not stop.is_set():
        pid = pid_getter()
        if pid:
            try:
                proc = psutil.Process(pid)
                rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
                peak = max(peak, rss)
            except psutil.Error:
                pass
        time.sleep(0.05)
    out.append(peak)


def run(path: Path) -> dict:
    nb = nbformat.read(path, as_version=4)
    client = notebook_client(nb, path.parent, record_timing=False)

    def kernel_pid():
        km = getattr(client, "km", None)
        proc = getattr(getattr(km, "provisioner", None), "process", None)
        return getattr(proc, "pid", None)

    stop, peak = threading.Event(), []
    watcher = threading.Thread(target=peak_rss_while, args=(kernel_pid, stop, peak), daemon=True)
    watcher.start()
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    stop.set()
    watcher.join()
    return {"notebook": path.name, "seconds": round(seconds, 1), "peak_rss_mb": round(peak[0] / 2**20)}


def main(argv: list[str]) -> int:
    os.environ["OMP_NUM_THREADS"] = "2"
    os.environ["COURSE_DEVICE"] = "cpu"
    paths = [Path(p) for p in argv] or sorted((ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))
    results = []
    for path in paths:
        results.append(run(path.resolve()))
        print(results[-1], flush=True)
    out = ROOT / "benchmarks" / "results" / "notebooks.json"
    out.parent.mkdir(exist_ok=True)
    kept = json.loads(out.read_text()) if out.is_file() else []  # a run of some notebooks replaces only theirs
    ran = {r["notebook"] for r in results}
    merged = sorted([r for r in kept if r["notebook"] not in ran] + results, key=lambda r: r["notebook"])
    out.write_text(json.dumps(merged, indent=2) + "\n")
    print("\n| notebook | seconds (2 CPU threads) | peak memory (MB) |\n|---|---|---|")
    for r in results:
        print(f"| {r['notebook']} | {r['seconds']} | {r['peak_rss_mb']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
