"""Write throughput, memory and read latency of datasets on disk.

    python benchmarks/bench_write.py --num 200000 --workers 1 2 --source idx:/data/mnist --split test
    python benchmarks/bench_write.py --num 20000 --json results.json          # quick look, built-in glyphs
    python benchmarks/bench_write.py --num 200000 --compression lz4            # the faster, larger codec

For each worker count it writes ``--num`` ``srivastava`` sequences (default annotations: frames, semantic and
instance masks, boxes, tracks...) to zarr in a fresh subprocess and reports: wall time, sequences/s, the split
of CPU time between rendering and compression+write (summed over processes), the peak resident memory of every
process (the parent and each worker, from getrusage in each), the size on disk, and the speed-up over the first
worker count. Beside the throughput it prints the memory-copy bound measured in the same run: the sequences/s a
single core would reach if producing the output cost only a memcpy of its raw bytes between warm buffers.

Then it measures the read time of ``--reads`` random single sequences (``ds[i]``: every array) for each format:
zarr from the dataset just written, hdf5 / npy / classic-npy from datasets of ``--read-num`` sequences written
for the purpose (an npy copy of 200,000 sequences would take 49 GB). Reads hit the page cache (the files were
just written); cold-cache reads depend on the disk.

Targets (issue 4): >= 5,000 sequences/s end to end with 2 workers, peak RSS < 1 GB in every process, 2 workers
>= 1.7x one worker.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")
FORMATS = {"zarr": ".zarr", "hdf5": ".h5", "npy": ".npy-dir", "classic-npy": ".npy"}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    return env


def run_one(args: argparse.Namespace) -> dict:
    """In a fresh process: write one dataset and report what happened (JSON on stdout)."""
    import resource

    import movingmnist as mm

    spec = mm.Spec.from_preset(args.preset, [f"source.split={args.split}"])
    t0 = time.perf_counter()
    summary = mm.write_dataset(
        spec, seed=0, num=args.num, path=args.path, source=args.source, workers=args.one_workers,
        format=args.one_format, chunk_size=args.chunk_size, overwrite=True, progress=False, command="bench_write",
        compression=args.compression if args.one_format == "zarr" else None,
    )
    wall = time.perf_counter() - t0
    parent_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    children_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    gen = mm.Generator(spec, 0, source=args.source)
    row_bytes = sum(int(np.prod(s)) * d.itemsize for s, d in gen.shapes.values())
    return {
        "format": args.one_format,
        "workers": args.one_workers,
        "num": args.num,
        "wall_s": wall,
        "write_s": summary.seconds,
        "seq_per_s": args.num / wall,
        "render_s": summary.render_seconds,
        "write_s_in_workers": summary.write_seconds,
        "compress_s_in_workers": summary.compress_seconds,
        "chunk_cpu_s": summary.cpu_seconds,
        "bytes_on_disk": summary.nbytes,
        "raw_bytes_per_seq": row_bytes,
        "peak_rss_parent": parent_rss,
        "peak_rss_workers": {str(pid): rss for pid, rss in summary.peak_rss.items() if pid != os.getpid()},
        "peak_rss_children_max": children_rss,
    }


def copy_bound(row_bytes: int, repeats: int = 5) -> float:
    """Sequences/s of one core if each sequence cost a memcpy of its raw bytes between warm 64 MB buffers."""
    nbytes = 64 * 2**20
    src = np.ones(nbytes, dtype=np.uint8)
    dst = np.zeros(nbytes, dtype=np.uint8)
    np.copyto(dst, src)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - t0)
    return nbytes / float(np.median(times)) / row_bytes


def _control_worker(seconds: float) -> float:
    """Encodes per second of a fixed zstd job: the compression half of the writer's work, without any I/O."""
    import numcodecs

    data = (np.random.default_rng(0).random(20 * 64 * 64 * 64) > 0.85).astype(np.uint8)
    codec = numcodecs.Zstd(level=1)
    codec.encode(data)
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        codec.encode(data)
        count += 1
    return count / (time.perf_counter() - t0)


def scaling_control(processes: int, seconds: float = 5.0) -> float:
    """How much faster ``processes`` independent copies of a CPU-bound loop run than one, on this machine now."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        one = pool.apply(_control_worker, (seconds,))
    with ctx.Pool(processes) as pool:
        many = sum(pool.map(_control_worker, [seconds] * processes))
    return many / one


def read_latency(path: str, reads: int, seed: int = 0) -> dict:
    import movingmnist as mm

    ds = mm.open(path)
    rows = np.random.default_rng(seed).integers(0, len(ds), reads)
    ds[int(rows[0])]  # open files, warm the index caches
    t0 = time.perf_counter()
    for row in rows:
        ds[int(row)]
    elapsed = time.perf_counter() - t0
    return {"format": ds.format, "n": len(ds), "reads": reads, "total_s": elapsed, "ms_per_seq": 1e3 * elapsed / reads}


def _child(argv: list[str]) -> dict:
    run = subprocess.run([sys.executable, __file__, *argv], env=_env(), capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=20_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--preset", default="srivastava")
    parser.add_argument("--source", default="glyphs")
    parser.add_argument("--split", default="train")
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--compression", default=None, help="zarr compression (default zstd:1; e.g. lz4)")
    parser.add_argument("--out-dir", default=None, help="where to write (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the datasets")
    parser.add_argument("--reads", type=int, default=1000, help="random single-sequence reads per format")
    parser.add_argument("--read-num", type=int, default=20_000, help="size of the hdf5/npy datasets read back")
    parser.add_argument("--read-formats", nargs="*", default=list(FORMATS))
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--no-control", action="store_true", help="skip the machine scaling control")
    # internal: one measurement in a fresh process
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--one-workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--one-format", default="zarr", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--read", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:
        print(json.dumps(read_latency(args.path, args.reads) if args.read else run_one(args)))
        return

    out_dir = args.out_dir or tempfile.mkdtemp(prefix="bench_write_")
    os.makedirs(out_dir, exist_ok=True)
    common = ["--preset", args.preset, "--source", args.source, "--split", args.split]
    if args.chunk_size:
        common += ["--chunk-size", str(args.chunk_size)]
    if args.compression:
        common += ["--compression", args.compression]
    results: dict = {"num": args.num, "source": args.source, "split": args.split, "cpus": os.cpu_count(),
                     "compression": args.compression or "zstd:1",
                     "writes": [], "reads": []}
    print(f"{args.num:,} {args.preset} sequences (default annotations) from {args.source}/{args.split}, "
          f"zarr compression {args.compression or 'zstd:1'}, {os.cpu_count()} CPUs, output in {out_dir}")
    zarr_path = os.path.join(out_dir, "bench.zarr")
    base_rate = None
    for workers in args.workers:
        res = _child(["--one", *common, "--num", str(args.num), "--one-workers", str(workers), "--path", zarr_path])
        bound = copy_bound(res["raw_bytes_per_seq"])
        res["copy_bound_seq_per_s_one_core"] = bound
        base_rate = base_rate or res["seq_per_s"]
        res["speedup"] = res["seq_per_s"] / base_rate
        # contention-independent figures: how much CPU the workers got, and sequences per CPU-second
        res["worker_cpu_utilisation"] = res["chunk_cpu_s"] / (res["write_s"] * workers)
        res["seq_per_cpu_s"] = args.num / res["chunk_cpu_s"]
        results["writes"].append(res)
        workers_rss = ", ".join(_mb(v) for v in res["peak_rss_workers"].values()) or "(in the parent)"
        print(
            f"zarr, {workers} worker(s): {res['wall_s']:.1f} s wall, {res['seq_per_s']:,.0f} seq/s "
            f"(x{res['speedup']:.2f}; memory-copy bound {bound:,.0f} seq/s per core, ratio "
            f"{res['seq_per_s'] / (bound * workers):.3f} of the bound on {workers} core(s)); time in workers: "
            f"render {res['render_s']:.1f} s, compress {res['compress_s_in_workers']:.1f} s, write (storage, "
            f"fsync, shard assembly) {res['write_s_in_workers'] - res['compress_s_in_workers']:.1f} s; CPU "
            f"{res['chunk_cpu_s']:.1f} s; "
            f"on disk {_mb(res['bytes_on_disk'])} "
            f"({res['bytes_on_disk'] / args.num / 1024:.1f} KiB/seq, raw {res['raw_bytes_per_seq'] / 1024:.0f} "
            f"KiB/seq); peak RSS parent {_mb(res['peak_rss_parent'])}, workers {workers_rss}; the workers were on a "
            f"CPU {100 * res['worker_cpu_utilisation']:.0f}% of the time, {res['seq_per_cpu_s']:,.0f} sequences per "
            f"CPU-second"
        )
    if not args.no_control and max(args.workers) > 1:
        w = max(args.workers)
        control = scaling_control(w)
        results["scaling_control"] = {"processes": w, "speedup": control}
        print(f"scaling control: {w} independent processes of a zstd loop run {control:.2f}x one process on this "
              f"machine now (the ceiling for {w} workers)")
    for fmt in args.read_formats:
        if fmt == "zarr":
            path = zarr_path
        else:
            path = os.path.join(out_dir, f"read{FORMATS[fmt]}")
            _child(["--one", *common, "--num", str(min(args.read_num, args.num)), "--one-workers", "1",
                    "--one-format", fmt, "--path", path])
        res = _child(["--one", "--read", "--path", path, "--reads", str(args.reads)])
        res["bytes_on_disk"] = sum(
            os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs
        ) if os.path.isdir(path) else os.path.getsize(path)
        results["reads"].append(res)
        print(f"read {args.reads:,} random single sequences, {fmt} (N={res['n']:,}): {res['total_s']:.2f} s, "
              f"{res['ms_per_seq']:.3f} ms/sequence")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if not args.keep and not args.out_dir:
        shutil.rmtree(out_dir)


if __name__ == "__main__":
    main()
