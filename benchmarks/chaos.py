"""Chaos check of the crash guarantee: interrupt `movingmnist generate` at random moments and resume it.

Each round picks a format (zarr, hdf5, npy), 1 or 2 workers, a signal (SIGKILL, or SIGINT as Ctrl-C) and a moment,
interrupts the run (odd rounds interrupt the resume too), checks that the interrupted dataset is refused by
``mm.open``, resumes it to the end and compares the sha256 of every array with an uninterrupted run of the same
format. It also checks that no worker process outlives a killed parent.

    python benchmarks/chaos.py --rounds 20 --num 8000

Prints one line per round and the count of rounds that ended identical.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

import movingmnist as mm

FORMATS = {"zarr": ".zarr", "hdf5": ".h5", "npy": ".npy-dir"}


def hashes(path: str) -> dict[str, str]:
    with mm.open(path) as ds:
        return {n: hashlib.sha256(np.ascontiguousarray(a[:]).tobytes()).hexdigest() for n, a in ds.arrays.items()}


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def command(args: argparse.Namespace, out: str, workers: int, *more: str) -> list[str]:
    return [sys.executable, "-m", "movingmnist", "generate", "--preset", args.preset, "--source", args.source,
            "--num", str(args.num), "--seed", "3", "--chunk-size", str(args.chunk_size), "--workers", str(workers),
            "--quiet", "--out", out, *more]


def interrupt(cmd: list[str], sig: int, delay: float, env: dict[str, str]) -> tuple[int, list[int]]:
    """Run ``cmd``, send ``sig`` after ``delay`` seconds; returns the exit code and the workers that outlived it."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    workers = children(proc.pid)
    proc.send_signal(sig)
    code = proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in workers):
        time.sleep(0.05)
    survivors = [p for p in workers if alive(p)]
    for p in survivors:
        os.kill(p, signal.SIGKILL)
    return code, survivors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--num", type=int, default=8000)
    parser.add_argument("--chunk-size", type=int, default=200)
    parser.add_argument("--preset", default="srivastava")
    parser.add_argument("--source", default="glyphs")
    parser.add_argument("--max-delay", type=float, default=None, help="latest interrupt, s (default: a run's time)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    env = {**os.environ, "MOVINGMNIST_POOL_MIN_BYTES": "0"}
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="movingmnist-chaos-")
    want, duration = {}, {}
    for fmt, suffix in FORMATS.items():
        ref = os.path.join(work, f"ref{suffix}")
        t0 = time.perf_counter()
        subprocess.run(command(args, ref, 1), env=env, check=True)
        duration[fmt] = time.perf_counter() - t0
        want[fmt] = hashes(ref)
    print("uninterrupted runs: " + ", ".join(f"{f} {d:.1f} s" for f, d in duration.items()))
    identical = 0
    for round_ in range(args.rounds):
        fmt = list(FORMATS)[round_ % 3]
        workers = 1 + (round_ // 3) % 2
        sig = signal.SIGINT if round_ % 5 == 4 else signal.SIGKILL
        path = os.path.join(work, f"r{round_}{FORMATS[fmt]}")
        latest = args.max_delay or duration[fmt] * (1.6 if workers == 2 else 1.0)
        events, refused, orphans = [], True, []
        for attempt in range(1 + round_ % 2):  # odd rounds also interrupt the resume
            delay = rng.uniform(0.3, latest)
            more = ["--resume"] if attempt else []
            code, survivors = interrupt(command(args, path, workers, *more), sig, delay, env)
            orphans += survivors
            events.append(f"{signal.Signals(sig).name} at {delay:.1f} s -> exit {code}")
            if code != 0:
                try:
                    mm.open(path)
                    refused = False
                except mm.DatasetError:
                    pass
        resume = subprocess.run(command(args, path, workers, "--resume"), env=env, capture_output=True, text=True)
        same = resume.returncode == 0 and hashes(path) == want[fmt]
        identical += same and refused and not orphans
        note = resume.stdout.strip().split("(", 1)[-1][:80] if "rebuilt" in resume.stdout else ""
        print(f"round {round_:2d}  {fmt:5s} {workers} worker(s)  {'; '.join(events):60s}  refused={refused} "
              f"orphans={len(orphans)} resume={resume.returncode} identical={same} {note}", flush=True)
    print(f"{identical} of {args.rounds} interrupted runs resumed to byte-identical datasets "
          "(interrupted datasets refused by mm.open, no orphaned workers)")
    return 0 if identical == args.rounds else 1


if __name__ == "__main__":
    raise SystemExit(main())
