"""Torch throughput: get_batch on CPU (one thread) and CUDA, beside copy bounds, and a DataLoader training loop.

    python benchmarks/bench_torch.py                         # everything that this machine can run
    python benchmarks/bench_torch.py --only cpu --presets srivastava stochastic
    python benchmarks/bench_torch.py --only cuda --nums 1024 16384 65536 --compile --profile
    python benchmarks/bench_torch.py --only train-device --device cuda --train-batches 64 256
    python benchmarks/bench_torch.py --only train --steps 60

``cpu``: for each preset and annotation setting, the median rate (sequences/s) of ``movingmnist.torch.get_batch``
into reused output tensors with the torch kernels, with ``kernels="auto"``, and of the numpy Generator (numba
kernels for the general path when installed; ``--numpy-reference`` adds the pure numpy reference), all in
this run, beside two copy bounds of the same output bytes: ``clone`` (``torch.clone`` of a tensor of that size:
allocates, as a fresh batch would) and ``copy`` (``copy_`` between two warm tensors: the memory-copy bound).
The general path (``segmentation``, ``affine``: rotation, brightness, backgrounds, affine poses) renders
``--cpu-num-general`` sequences per call on CPU.

``cuda``: the same on the GPU for each batch size of ``--nums`` (torch kernels; ``--compile`` adds
``TorchGenerator(compile=True)``, the patch sampling fused by torch.compile, for the general path), synchronised around
each call; bounds from the device's own ``clone`` and ``copy_`` of the same bytes (device memory bandwidth). A batch
that does not fit in device memory is reported as such. ``--profile`` prints the torch profiler's kernel table of one
call per preset at the largest size.

``train-device``: the same ConvLSTM trained on the device, fed by ``get_batch`` on that device (``--device``): the
share of each step spent generating (everything synchronised), for each batch size of ``--train-batches``.

``train``: a small ConvLSTM predicts frame t+1 from frames <= t; batches come from ``MovingMNISTDataset`` through
``DataLoader(num_workers=2)``; reports the share of each step spent waiting for the next batch.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import movingmnist as mm  # noqa: E402
import movingmnist.torch as mmt  # noqa: E402

torch.set_num_threads(1)



def median_seconds(fn, repeats: int, sync=None) -> float:
    fn()
    if sync:
        sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - start)
    return float(statistics.median(times))


def copy_bounds(nbytes: int, device: torch.device, repeats: int, sync=None) -> tuple[float, float]:
    """Seconds to ``clone`` and to ``copy_`` (warm) ``nbytes`` on ``device``."""
    src = torch.ones(nbytes, dtype=torch.uint8, device=device)
    dst = torch.zeros(nbytes, dtype=torch.uint8, device=device)
    clone = median_seconds(lambda: src.clone(), repeats, sync)
    copy = median_seconds(lambda: dst.copy_(src), repeats, sync)
    return clone, copy


def batch_caller(spec, num: int, device: torch.device, source, kernels: str, out: dict):
    """A call of get_batch for the next ``num`` sequences into ``out`` (a new range every time)."""
    counter = iter(range(1, 10**9))
    return lambda: mmt.get_batch(
        spec, num, device=device, start=next(counter) * num, source=source, kernels=kernels, out=out
    )


def generator_caller(spec, num: int, device: torch.device, source, **kwargs):
    """A TorchGenerator (e.g. ``compile=True``) rendering the next ``num`` sequences into reused tensors."""
    from movingmnist.torch import TorchGenerator

    gen = TorchGenerator(spec, seed=0, source=source, device=device, kernels="torch", **kwargs)
    out = gen.allocate(num)
    counter = iter(range(1, 10**9))
    return lambda: gen.render(next(counter) * num, num, out)


def numpy_caller(spec, num: int, source, kernel: str = "auto"):
    """The numpy Generator rendering the next ``num`` sequences into a reused Batch."""
    gen = mm.Generator(spec, seed=0, source=source, kernel=kernel)
    out = gen.allocate(num)
    counter = iter(range(1, 10**9))
    return lambda: gen.render(next(counter) * num, num, out)


def source_for(args) -> object:
    if args.source == "arrays":
        g = np.random.default_rng(0)
        return ((g.random((6000, 28, 28)) ** 4 * 255).astype(np.uint8), np.arange(6000) % 10)
    return args.source


def bench_device(args, device: torch.device) -> list[dict]:
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else None
    source = source_for(args)
    rows = []
    for name in args.presets:
        for label, frames_only in (("frames only", True), ("default", False)):
            spec = mm.Spec.from_preset(name, {"source.split": args.split})
            spec = spec.frames_only() if frames_only else spec
            general = spec.general_renderer
            nums = args.nums if cuda else [args.cpu_num_general if general else args.cpu_num]
            for num in nums:
                row: dict = {"device": str(device), "preset": name, "annotations": label, "num": num}
                try:
                    compiled = general and args.compile and (not cuda or num == args.compile_num)
                    row.update(time_one(args, spec, num, device, source, sync, compiled, f"{name:<14}{label:<13}"))
                except torch.OutOfMemoryError:
                    row["note"] = "out of device memory"
                    print(f"{name:<14}{label:<13}{num:>7}  out of device memory")
                    torch.cuda.empty_cache()
                rows.append(row)
                if cuda:
                    torch.cuda.empty_cache()
    return rows


def time_one(args, spec, num: int, device: torch.device, source, sync, compiled: bool, title: str) -> dict:
    """Rates of one spec and batch size on one device, beside the copy bounds of the same bytes."""
    cuda = device.type == "cuda"
    general = spec.general_renderer
    rates = {}
    for kernels in ("torch",) if cuda else ("torch", "auto"):
        out = mmt.get_batch(spec, num, device=device, source=source, kernels=kernels)
        rates[kernels] = num / median_seconds(batch_caller(spec, num, device, source, kernels, out), args.repeats, sync)
        del out
    out = mmt.get_batch(spec, 1, device=device, source=source, kernels="torch")
    nbytes = num * sum(t.numel() * t.element_size() for t in out.values())
    if compiled:
        rates["torch+compile"] = num / median_seconds(
            generator_caller(spec, num, device, source, compile=True), args.repeats, sync
        )
    if not cuda:
        rates["numpy"] = num / median_seconds(numpy_caller(spec, num, source), args.repeats)
        if general and args.numpy_reference:
            rates["numpy-ref"] = num / median_seconds(numpy_caller(spec, num, source, "numpy"), args.repeats)
    clone_s, copy_s = copy_bounds(nbytes, device, args.repeats, sync)
    best = max(rates.values())
    print(
        f"{title}{num:>7}  " + "  ".join(f"{k} {v:>10.0f}" for k, v in rates.items())
        + f"   clone {num / clone_s:>10.0f}  copy {num / copy_s:>10.0f}  best/copy {best * copy_s / num:6.4f}"
        f"  {nbytes / num / 1e3:6.1f} kB/seq"
    )
    return {
        "seq_per_s": {k: round(v) for k, v in rates.items()},
        "bytes_per_seq": nbytes // num,
        "clone_bound_seq_per_s": round(num / clone_s),
        "copy_bound_seq_per_s": round(num / copy_s),
        "copy_GB_per_s": round(2 * nbytes / copy_s / 1e9, 1),
        "ratio_torch_to_copy_bound": round(rates["torch"] * copy_s / num, 5),
        "ratio_best_to_copy_bound": round(best * copy_s / num, 5),
        "ratio_torch_to_clone_bound": round(rates["torch"] * clone_s / num, 5),
    }


def profile_device(args, device: torch.device) -> None:
    """The torch profiler's table of the kernels of one get_batch call per preset (largest size of ``--nums``)."""
    from torch.profiler import ProfilerActivity, profile

    source = source_for(args)
    num = max(args.nums)
    for name in args.presets:
        for label, frames_only in (("frames only", True), ("default", False)):
            spec = mm.Spec.from_preset(name, {"source.split": args.split})
            spec = spec.frames_only() if frames_only else spec
            out = mmt.get_batch(spec, num, device=device, source=source, kernels="torch")
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                mmt.get_batch(spec, num, device=device, start=num, source=source, kernels="torch", out=out)
                torch.cuda.synchronize()
            print(f"\n== profile: {name}, {label}, {num} sequences ==")
            print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=12, max_name_column_width=60))
            del out
            torch.cuda.empty_cache()


class ConvLSTMCell(torch.nn.Module):
    def __init__(self, channels_in: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.gates = torch.nn.Conv2d(channels_in + hidden, 4 * hidden, 3, padding=1)

    def forward(self, x, state):
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class NextFrame(torch.nn.Module):
    """Encoder (stride-2 conv) -> ConvLSTM over time -> decoder predicting the next frame."""

    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.encode = torch.nn.Conv2d(1, 8, 4, stride=2, padding=1)
        self.cell = ConvLSTMCell(8, hidden)
        self.decode = torch.nn.ConvTranspose2d(hidden, 1, 4, stride=2, padding=1)

    def forward(self, frames):  # (B, T, 1, H, W) float
        b, t, _, h, w = frames.shape
        state = (frames.new_zeros(b, self.cell.hidden, h // 2, w // 2),) * 2
        outputs = []
        for step in range(t):
            state = self.cell(torch.relu(self.encode(frames[:, step])), state)
            outputs.append(self.decode(state[0]))
        return torch.stack(outputs, dim=1)


def bench_training(args) -> dict:
    source = source_for(args)
    ds = mmt.MovingMNISTDataset(
        "srivastava", num=args.batch * (args.steps + 8), seed=0, source=source, returns="frames",
        overrides={"frames": 10, "source.split": args.split}, dtype=torch.float32,
    )
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch, num_workers=2, shuffle=True, prefetch_factor=4,
                                         persistent_workers=False)
    model = NextFrame()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    waits, steps = [], []
    it = iter(loader)
    for step in range(args.steps):
        t0 = time.perf_counter()
        frames = next(it)
        t1 = time.perf_counter()
        pred = model(frames[:, :-1])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(pred, frames[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        t2 = time.perf_counter()
        if step >= 3:  # worker start-up and first prefetch are not steady state
            waits.append(t1 - t0)
            steps.append(t2 - t0)
    wait_share = sum(waits) / sum(steps)
    result = {
        "batch": args.batch,
        "steps_timed": len(steps),
        "median_step_s": round(statistics.median(steps), 4),
        "median_wait_s": round(statistics.median(waits), 5),
        "data_wait_share": round(wait_share, 4),
        "final_loss": round(float(loss.detach()), 4),
    }
    print(
        f"training: batch {args.batch}, {len(steps)} steps timed, median step {result['median_step_s'] * 1e3:.1f} ms, "
        f"waiting for data {100 * wait_share:.2f}% of step time (median wait {result['median_wait_s'] * 1e3:.2f} ms)"
    )
    return result


def bench_training_on_device(args) -> list[dict]:
    """The ConvLSTM trained on ``--device``, its batches made there by get_batch: share of step time generating."""
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    source = source_for(args)
    spec = mm.Spec.from_preset("srivastava", {"frames": 10, "source.split": args.split}).frames_only()
    results = []
    for batch in args.train_batches:
        torch.manual_seed(0)
        model = NextFrame().to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        out, gen_times, step_times = None, [], []
        for step in range(args.steps):
            sync()
            t0 = time.perf_counter()
            out = mmt.get_batch(spec, batch, device=device, start=step * batch, source=source, out=out)
            frames = out["frames"].float().div_(255)  # what a training loop does with uint8 frames
            sync()
            t1 = time.perf_counter()
            pred = model(frames[:, :-1])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(pred, frames[:, 1:])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sync()
            t2 = time.perf_counter()
            if step >= 3:  # first calls build caches and pick kernels
                gen_times.append(t1 - t0)
                step_times.append(t2 - t0)
        share = sum(gen_times) / sum(step_times)
        row = {
            "device": str(device),
            "batch": batch,
            "steps_timed": len(step_times),
            "median_step_s": round(statistics.median(step_times), 5),
            "median_generate_s": round(statistics.median(gen_times), 6),
            "generate_share": round(share, 4),
            "final_loss": round(float(loss.detach()), 4),
        }
        print(
            f"training on {device}: batch {batch}, {len(step_times)} steps timed, median step "
            f"{row['median_step_s'] * 1e3:.2f} ms, generating {row['median_generate_s'] * 1e3:.3f} ms = "
            f"{100 * share:.2f}% of step time"
        )
        results.append(row)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["cpu", "cuda", "train", "train-device"], action="append")
    parser.add_argument("--presets", nargs="*", default=[p.name for p in mm.list_presets()])
    parser.add_argument("--source", default="arrays", help="a source name, or 'arrays' (synthetic, no download)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--cpu-num", type=int, default=2048, help="sequences per get_batch call on CPU")
    parser.add_argument("--cpu-num-general", type=int, default=256,
                        help="sequences per call on CPU for the general path (segmentation, affine)")
    parser.add_argument("--compile", action="store_true", help="also time TorchGenerator(compile=True)")
    parser.add_argument("--numpy-reference", action="store_true",
                        help="also time the pure numpy reference of the general path (slow)")
    parser.add_argument("--nums", type=int, nargs="+", default=[16384], help="sequences per get_batch call on CUDA")
    parser.add_argument("--compile-num", type=int, default=16384, help="the CUDA batch size timed with --compile")
    parser.add_argument("--profile", action="store_true", help="print the CUDA profiler table of each preset")
    parser.add_argument("--device", default="cuda", help="device of the train-device part")
    parser.add_argument("--train-batches", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    parts = args.only or ["cpu", "cuda", "train"] + (["train-device"] if torch.cuda.is_available() else [])
    results: dict = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    if "cpu" in parts:
        results["cpu"] = bench_device(args, torch.device("cpu"))
    if "cuda" in parts:
        if torch.cuda.is_available():
            results["cuda_device"] = torch.cuda.get_device_name()
            results["cuda"] = bench_device(args, torch.device("cuda"))
            if args.profile:
                profile_device(args, torch.device("cuda"))
        else:
            print("cuda: no CUDA device here, skipped")
    if "train" in parts:
        results["train"] = bench_training(args)
    if "train-device" in parts:
        results["train_device"] = bench_training_on_device(args)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
