"""Training throughput at the first seed's size (batch 32, 2-layer GRU of width 256, head width
256): the default design against the seed-faithful configuration and the predictive baseline.

    python -m benchmarks.training [--rounds 5] [--steps 6]

A step is what `python -m main` does per batch, in a plain PyTorch loop (no Lightning, no start-up
in the timing): the LightningModule's `training_loss`, backward, gradient clipping at
`experiment.training.gradient_clip_val`, AdamW, and the EMA update where the recipe has one.
Batches come from the real data stream, drawn before the timing.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import torch
from omegaconf import DictConfig

from algorithms.base.trajectory_model import TrajectoryModel
from algorithms.networks.context import shift_right
from benchmarks.recipes import DESIGNS, SEED_SIZE, build, compose
from benchmarks.timing import interleave, median, paired_ratio, spread

TARGET = 5.0  # default >= 5x the seed-faithful configuration (issue 17)


def train_step_fn(algo: TrajectoryModel, cfg: DictConfig, schedule: bool = False
                  ) -> Callable[[torch.Tensor], None]:
    """One optimisation step of `algo` on a batch, as `python -m main` makes it (see the module
    docstring); `schedule`: also step the recipe's learning-rate schedule."""
    optimizers = algo.configure_optimizers()
    optimizer, scheduler = optimizers["optimizer"], optimizers["lr_scheduler"]["scheduler"]
    clip = float(cfg.experiment.training.gradient_clip_val)
    algo.train()

    def train_step(batch: torch.Tensor) -> None:
        loss, _ = algo.batch_loss(algo.network, batch, train=True)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(algo.network.parameters(), clip)
        optimizer.step()
        if schedule:
            scheduler.step()
        if algo.ema is not None:
            algo.ema.update_parameters(algo.network)

    return train_step


def step_timer(overrides: tuple[str, ...], steps: int) -> Callable[[], float]:
    """A callable that trains `steps` steps of the configuration and returns seconds per step."""
    cfg = compose(*overrides)
    algo, data = build(cfg)
    train_step = train_step_fn(algo, cfg)
    stream = iter(data.train_dataloader())
    batches = [next(stream) for _ in range(steps)]

    def timed() -> float:
        start = time.perf_counter()
        for batch in batches:
            train_step(batch)
        return (time.perf_counter() - start) / steps

    train_step(batches[0])  # warm-up: first-call allocations, optimiser state
    return timed


def recurrence_timer(steps: int) -> Callable[[], float]:
    """Seconds for one forward and backward pass of the default network's recurrence alone
    (GRU 2x256 over the batch of 32 x 64 tokens): what any step that runs it once must spend."""
    cfg = compose(*DESIGNS["default"], *SEED_SIZE)
    algo, data = build(cfg)
    backbone, features = algo.network.backbone, algo.network.context_features
    batch = next(iter(data.train_dataloader()))
    inputs = features.sequence(shift_right(batch))

    def once() -> None:
        backbone.zero_grad(set_to_none=True)
        backbone.sequence(inputs).square().mean().backward()

    def timed() -> float:
        start = time.perf_counter()
        for _ in range(steps):
            once()
        return (time.perf_counter() - start) / steps

    once()
    return timed


def run(rounds: int = 5, steps: int = 6) -> dict[str, float]:
    head_128 = tuple(o for o in SEED_SIZE if not o.startswith("algorithm.head.width"))
    timers = {name: step_timer((*design, *SEED_SIZE), steps) for name, design in DESIGNS.items()}
    timers["default_head128"] = step_timer((*DESIGNS["default"], *head_128), steps)
    timers["recurrence_only"] = recurrence_timer(steps)
    seconds = interleave(timers, rounds)
    figures = {f"train_steps_per_s_{name}": 1 / median(s) for name, s in seconds.items()}
    for name in ("seed_faithful", "predictive"):
        figures[f"train_ratio_default_over_{name}"] = paired_ratio(seconds[name],
                                                                   seconds["default"])
    figures["train_ratio_default_head128_over_seed_faithful"] = paired_ratio(
        seconds["seed_faithful"], seconds["default_head128"])
    figures["train_ratio_ceiling_recurrence_only_over_seed_faithful"] = paired_ratio(
        seconds["seed_faithful"], seconds["recurrence_only"])
    print(f"training throughput at the seed's size (batch 32, GRU 2x256, head width 256; loss + "
          f"backward + clip + AdamW + EMA in a plain loop; median of {rounds} interleaved rounds "
          f"of {steps} steps):")
    for name, s in seconds.items():
        print(f"  {name:<16} {1 / median(s):7.2f} steps/s   (rounds: {spread([1 / x for x in s])})")
    ratio = figures["train_ratio_default_over_seed_faithful"]
    verdict = "met" if ratio >= TARGET else f"NOT met (gap {TARGET / ratio:.2f}x)"
    print(f"  default / seed_faithful = {ratio:.2f}x   (target >= {TARGET:g}x: {verdict})")
    print(f"  default / predictive    = {figures['train_ratio_default_over_predictive']:.2f}x")
    print(f"  default with the design's head width 128 / seed_faithful = "
          f"{figures['train_ratio_default_head128_over_seed_faithful']:.2f}x")
    print(f"  ceiling: seed_faithful / one forward+backward of the GRU 2x256 alone = "
          f"{figures['train_ratio_ceiling_recurrence_only_over_seed_faithful']:.2f}x (no design "
          f"that runs this recurrence once per step can beat it)")
    return figures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=6, help="training steps per round")


def main() -> None:
    from benchmarks.machine import machine_line

    parser = argparse.ArgumentParser(prog="python -m benchmarks.training",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    print(machine_line())
    run(args.rounds, args.steps)


if __name__ == "__main__":
    main()
