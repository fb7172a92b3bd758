"""Generation speed on one backbone (the default: a 1-layer GRU of width 128, head width 128):
latency per token at batch 1 and throughput at batch 1 024, for 1-NFE flow forcing, Diffusion
Forcing with K = 10 and 50 Euler steps per token, and the predictive baseline.

    python -m benchmarks.generation [--rounds 5] [--no-aoti]

Each row is the streaming generator (`StreamingSampler`, set up as the algorithm's rollout sets
it up: `algorithms.generation.streaming.make_sampler`), drawing its own noise, past the first tokens.
Two more ways to run the same 1-NFE step: the torch.export program called from Python, and that
program compiled by AOTInductor (C++ kernels, no Python per op; `--no-aoti` skips the ~30 s
compile per program). Weights are a fresh initialisation: the speed does not depend on them.
When the eager 1-NFE step misses the 150 µs target, `profile_step` splits it into its parts.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

from algorithms.generation.export import (
    ExportedStreams,
    compile_program,
    export_streams,
    load_program,
    token_steps,
)
from algorithms.generation.sampler import StreamingSampler
from algorithms.generation.streaming import make_sampler
from benchmarks.recipes import build, compose
from benchmarks.timing import interleave, median, paired_ratio, spread

LATENCY_TARGET_US = 150.0
LATENCY_TARGET_RATIO = 1.15  # 1-NFE latency / the predictive baseline's step, at batch 1


def variants() -> dict[str, tuple[tuple[str, ...], int]]:
    """name -> (overrides, NFE). `flow_forcing_1nfe` is the default recipe, whatever its frame;
    `flow_forcing_1nfe_<frame>` the other frame; `predictive_same_frame` the baseline on the
    default's frame when its own config differs (the same network, one evaluation: the floor)."""
    frame = compose("algorithm=flow_forcing").algorithm.get("frame", "global")
    other = "global" if frame == "heading" else "heading"
    rows = {
        "flow_forcing_1nfe": (("algorithm=flow_forcing",), 1),
        f"flow_forcing_1nfe_{other}": (("algorithm=flow_forcing", f"algorithm.frame={other}"), 1),
        "diffusion_forcing_k10": (("algorithm=diffusion_forcing",), 10),
        "diffusion_forcing_k50": (("algorithm=diffusion_forcing",), 50),
        "predictive": (("algorithm=predictive",), 1),
    }
    if compose("algorithm=predictive").algorithm.get("frame", "global") != frame:
        rows["predictive_same_frame"] = (("algorithm=predictive", f"algorithm.frame={frame}"), 1)
    return rows


Streams = StreamingSampler | ExportedStreams


def streams_of(overrides: tuple[str, ...], nfe: int) -> StreamingSampler:
    cfg = compose(*overrides)
    algo, _ = build(cfg)
    network = algo.generation_network.eval()
    network.requires_grad_(False)
    return make_sampler(network, cfg.algorithm, nfe)


def exported_streams(sampler: StreamingSampler, folder: Path | None) -> ExportedStreams:
    """The sampler's steps as torch.export programs called from Python, or with a `folder`,
    the steady step compiled there by AOTInductor (the first tokens then run as eager
    `TokenStep`s, the same functions; a latency measured past them never calls them)."""
    steps, info = token_steps(sampler)
    programs, _ = export_streams(sampler)
    if folder is None:
        return ExportedStreams([p.module() for p in programs.values()], info)
    compiled = load_program(compile_program(programs["steady"], folder / "steady.aoti.pt2"))
    return ExportedStreams([*steps[:-1], compiled], info)


def per_token_timer(streams: Streams, batch: int, tokens: int) -> Callable[[], float]:
    """Seconds per token of `batch` streams, timed over `tokens` tokens past the first ones."""

    def timed() -> float:
        streams.reset(batch)
        for _ in range(4):  # past the first tokens' own rules, and warm
            streams.step()
        start = time.perf_counter()
        for _ in range(tokens):
            streams.step()
        return (time.perf_counter() - start) / tokens

    return timed


class OpCounter(torch.utils._python_dispatch.TorchDispatchMode):
    """Counts the ATen operations dispatched while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def microseconds(fn: Callable[[], object], calls: int = 2000, rounds: int = 5) -> float:
    """Median µs per call of `fn` over `rounds` blocks of `calls` calls."""
    for _ in range(calls // 10):
        fn()
    blocks = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        blocks.append((time.perf_counter() - start) / calls * 1e6)
    return median(blocks)


@torch.no_grad()
def profile_step(sampler: StreamingSampler) -> dict[str, float]:
    """The parts of one eager 1-NFE step at batch 1, each timed alone (µs), for the global or
    the heading frame; "the rest" is the step minus the parts: the Python that joins them."""
    net, index = sampler.network, 5
    sampler.reset(1)
    for _ in range(index):
        sampler.step()
    context, previous, state = sampler.context, sampler.previous, sampler.state
    moving = getattr(net, "frame", "global") == "heading"
    inner, before = state if moving else (state, None)
    inputs = (context, previous, before, index) if moving else (context, previous, index)
    features = net.context_features.step(*inputs)
    h, _ = net.backbone.step(features, inner)
    c = net.head.condition(h)
    z, t0, t1 = torch.randn(1, net.token_dim), torch.zeros(1), torch.ones(1)
    first = torch.zeros(1, dtype=torch.bool)
    parts = {
        "noise draw": lambda: torch.randn(1, net.token_dim),
        "context features" + (" (moving frame)" if moving else ""): lambda: (
            net.context_features.step(*inputs)),
        "recurrence: backbone step": lambda: net.backbone.step(features, inner),
        "head: conditioning projection": lambda: net.head.condition(h),
        "head: the two time embeddings": lambda: (net.head.embed_start(t0), net.head.embed_end(t1)),
        "head: token embedding, residual MLP, output": lambda: net.head.out(
            net.head.blocks(c + net.head.embed_token(z))),
        "noise into the moving frame": (lambda: net.noise_token(z, context, previous, index))
        if moving else None,
        "decode to data coordinates": (lambda: net.decode_token(z, context, previous, index))
        if moving else (lambda: net.token_space.decode_step(z, context, first)),
    }
    times = {name: microseconds(fn) for name, fn in parts.items() if fn is not None}
    whole = microseconds(lambda: sampler.step())
    times["the rest (Python glue: sampler, solver, flags)"] = whole - sum(times.values())
    times["whole step (StreamingSampler.step)"] = whole
    with OpCounter() as counter:
        sampler.step()
    times["aten_ops_per_step"] = counter.count
    times["one small op alone (add of [1, 128])"] = microseconds(lambda: torch.add(h, h))
    return times


def ratio_rows(title: str, seconds: dict[str, list[float]], value: Callable[[float], float],
               unit: str, invert: bool) -> tuple[dict[str, float], dict[str, float]]:
    """Print one row per candidate: its median, and its ratio to the predictive baseline of the
    same kind (eager or AOTInductor), paired per round; return the medians and the ratios."""
    print(title)
    values, ratios = {}, {}
    for name, s in seconds.items():
        base = "predictive_aoti" if name.endswith("_aoti") else "predictive"
        ratio = paired_ratio(seconds[base], s) if invert else paired_ratio(s, seconds[base])
        values[name], ratios[name] = value(median(s)), ratio
        print(f"    {name:<30} {value(median(s)):11.1f} {unit}   x{ratio:6.3f} of {base}   "
              f"(rounds: {spread([value(x) for x in s])})")
    return values, ratios


def run(rounds: int = 5, aoti: bool = True, latency_tokens: int = 400,
        throughput_tokens: int = 24, batch: int = 1024) -> dict[str, float]:
    rows = variants()
    samplers = {name: streams_of(overrides, nfe) for name, (overrides, nfe) in rows.items()}
    streams: dict[str, Streams] = dict(samplers)
    streams["flow_forcing_1nfe_exported"] = exported_streams(samplers["flow_forcing_1nfe"], None)
    nfe = {name: rows.get(name, (None, 1))[1] for name in streams}
    with tempfile.TemporaryDirectory() as folder:
        for name in ("flow_forcing_1nfe", "predictive", "predictive_same_frame") if aoti else ():
            if name in samplers:
                print(f"(compiling the {name} step with AOTInductor...)", flush=True)
                streams[f"{name}_aoti"] = exported_streams(samplers[name], Path(folder) / name)
                nfe[f"{name}_aoti"] = 1
        latency = interleave({name: per_token_timer(s, 1, max(10, latency_tokens // nfe[name]))
                              for name, s in streams.items()}, rounds)
        throughput = interleave({name: per_token_timer(s, batch,
                                                       max(2, throughput_tokens // nfe[name]))
                                 for name, s in streams.items()}, rounds)
    frame = compose("algorithm=flow_forcing").algorithm.get("frame", "global")
    print(f"generation, the default network (flow_forcing_1nfe: the default recipe, frame={frame}; "
          f"median of {rounds} interleaved rounds, ratios paired per round):")
    us, us_ratio = ratio_rows("  latency at batch 1 (µs per token):", latency,
                              lambda s: 1e6 * s, "µs", invert=False)
    per_s, per_s_ratio = ratio_rows(f"  throughput at batch {batch} (tokens per second, all "
                                    f"streams):", throughput, lambda s: batch / s, "tokens/s",
                                    invert=True)
    figures = {**{f"latency_us_{k}": v for k, v in us.items()},
               **{f"latency_ratio_{k}": v for k, v in us_ratio.items()},
               **{f"throughput_tokens_per_s_{k}": v for k, v in per_s.items()},
               **{f"throughput_ratio_{k}": v for k, v in per_s_ratio.items()}}
    for base in ("predictive", "predictive_same_frame"):
        if base in latency:
            ratio = paired_ratio(latency["flow_forcing_1nfe"], latency[base])
            figures[f"latency_ratio_flow_forcing_1nfe_over_{base}"] = ratio
            print(f"  target 1 NFE <= {LATENCY_TARGET_RATIO}x {base} (eager): "
                  f"{'met' if ratio <= LATENCY_TARGET_RATIO else 'NOT met'} ({ratio:.2f}x)")
        if f"{base}_aoti" in latency:
            ratio = paired_ratio(latency["flow_forcing_1nfe_aoti"], latency[f"{base}_aoti"])
            figures[f"latency_ratio_flow_forcing_1nfe_aoti_over_{base}_aoti"] = ratio
            print(f"  target 1 NFE <= {LATENCY_TARGET_RATIO}x {base} (AOTInductor): "
                  f"{'met' if ratio <= LATENCY_TARGET_RATIO else 'NOT met'} ({ratio:.2f}x)")
    for name in ("flow_forcing_1nfe", "flow_forcing_1nfe_aoti"):
        if name in us:
            print(f"  target <= {LATENCY_TARGET_US:g} µs per token ({name}): "
                  f"{'met' if us[name] <= LATENCY_TARGET_US else 'NOT met'} ({us[name]:.1f} µs)")
    if us["flow_forcing_1nfe"] > LATENCY_TARGET_US:
        parts = profile_step(samplers["flow_forcing_1nfe"])
        print("  where the eager 1-NFE step's time goes at batch 1 (each part timed alone):")
        for name, value in parts.items():
            unit = "" if name == "aten_ops_per_step" else " µs"
            print(f"    {name:<48} {value:8.1f}{unit}")
        figures.update({f"profile_{k}": v for k, v in parts.items()})
    return figures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--no-aoti", dest="aoti", action="store_false",
                        help="skip the AOTInductor rows (no compile, no C++ compiler needed)")
    parser.add_argument("--latency-tokens", type=int, default=400,
                        help="tokens per round at batch 1 (divided by the NFE)")
    parser.add_argument("--throughput-tokens", type=int, default=24,
                        help="tokens per round at the large batch (divided by the NFE)")
    parser.add_argument("--batch", type=int, default=1024, help="streams for the throughput")


def main() -> None:
    from benchmarks.machine import machine_line

    parser = argparse.ArgumentParser(prog="python -m benchmarks.generation",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    print(machine_line())
    run(args.rounds, args.aoti, args.latency_tokens, args.throughput_tokens, args.batch)


if __name__ == "__main__":
    main()
