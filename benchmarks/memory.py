"""Peak memory generating 1k and 100k tokens (batch 64, the default network, 1 NFE).

    python -m benchmarks.memory [--short 1000] [--long 100000] [--batch 64]

Each measurement runs in a fresh process (`--child`). After building the network and drawing a
few tokens, the process resets its peak resident set size (Linux: `/proc/self/clear_refs`),
generates, and reads the peak (`VmHWM`). Reported: the whole process's peak and the growth of
the peak over the warm process, for two generators:
  streaming  `StreamingSampler.step` in a loop that keeps no token (what an application holding
             streams does): the state has a fixed size, so memory should not grow at all;
  rollout    `algorithms.generation.sampler.rollout`, which returns every token `[B, T, D]` (float32:
             B·T·D·4 bytes, 51 MB for 64 streams of 100k 2-D tokens): it grows by its output.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

MODES = ("streaming", "rollout")
TARGET = 1.10  # peak at 100k tokens within 10% of the peak at 1k


def resident_kib() -> dict[str, int]:
    """Current (VmRSS) and peak (VmHWM) resident set size of this process, KiB."""
    status = Path("/proc/self/status").read_text()
    return {key: int(re.search(rf"{key}:\s+(\d+)", status).group(1))
            for key in ("VmRSS", "VmHWM")}


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS


def child(mode: str, tokens: int, batch: int) -> dict[str, float]:
    """Run in the measuring process: warm up, reset the peak, generate, read the peak."""
    import torch

    from algorithms.generation.sampler import rollout
    from algorithms.generation.streaming import make_sampler
    from benchmarks.recipes import build, compose

    cfg = compose("algorithm=flow_forcing")
    algo, _ = build(cfg)
    network = algo.generation_network.eval()
    streams = make_sampler(network, cfg.algorithm, 1)
    streams.reset(batch)
    for _ in range(8):
        streams.step()
    rollout(network, batch, 8)
    before = resident_kib()["VmRSS"]
    reset_peak()
    if mode == "streaming":
        streams.reset(batch)
        with torch.no_grad():
            for _ in range(tokens):
                streams.step()
    else:
        samples = rollout(network, batch, tokens)
        assert samples.shape == (batch, tokens, network.token_dim)
    peak = resident_kib()["VmHWM"]
    return {"mode": mode, "tokens": tokens, "batch": batch, "warm_rss_mib": before / 1024,
            "peak_rss_mib": peak / 1024, "growth_mib": (peak - before) / 1024}


def measure(mode: str, tokens: int, batch: int) -> dict[str, float]:
    """`child` in a fresh interpreter (so no earlier allocation hides in the peak)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run([sys.executable, "-m", "benchmarks.memory", "--child", mode,
                             "--tokens", str(tokens), "--batch", str(batch)],
                            capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"memory child {mode} {tokens} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(short: int = 1000, long: int = 100_000, batch: int = 64) -> dict[str, float]:
    figures: dict[str, float] = {}
    print(f"peak memory generating {short} and {long} tokens (batch {batch}, 1 NFE; peak resident "
          f"set of a fresh process, and its growth over the warm process):")
    for mode in MODES:
        results = {n: measure(mode, n, batch) for n in (short, long)}
        ratio = results[long]["peak_rss_mib"] / results[short]["peak_rss_mib"]
        figures[f"memory_peak_ratio_{mode}"] = ratio
        for n, r in results.items():
            figures[f"memory_peak_mib_{mode}_{n}"] = r["peak_rss_mib"]
            figures[f"memory_growth_mib_{mode}_{n}"] = r["growth_mib"]
        verdict = "met" if ratio <= TARGET else "NOT met"
        print(f"  {mode:<9} peak {results[short]['peak_rss_mib']:7.1f} MiB at {short}, "
              f"{results[long]['peak_rss_mib']:7.1f} MiB at {long} (growth "
              f"{results[short]['growth_mib']:.1f} / {results[long]['growth_mib']:.1f} MiB): "
              f"{long} / {short} = {ratio:.3f}x   (target <= {TARGET:.2f}x: {verdict})")
    return figures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--short", type=int, default=1000, help="tokens of the short run")
    parser.add_argument("--long", type=int, default=100_000, help="tokens of the long run")
    parser.add_argument("--batch", type=int, default=64, help="streams")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--tokens", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.tokens, args.batch)))
        return
    from benchmarks.machine import machine_line

    print(machine_line())
    run(args.short, args.long, args.batch)


if __name__ == "__main__":
    main()
