"""Video: frames per second at batch 1 (a player waiting on every frame) and training throughput
in frames per second, for the one-step model at 1 NFE against Diffusion Forcing at K = 10 and
the predictive baseline, at the CPU default of `dataset=pong` (64 x 64 grey frames, 256-number
tokens, the default recipes: GRU 1x128, head 128).

    python -m benchmarks.video [--rounds 5] [--frames 64] [--steps 4]

A frame is what the play page's model does per action (`experiments.play.task.ModelStepper`):
one streamed token given the action (K network calls), then the tokenizer's decoder. The weights
are fresh (a frame's cost does not depend on them); the data are a few short episodes cached
apart from the repository's data folder. Targets (issue 28): >= 30 frames/s at 1 NFE, >= 10x the
rate of Diffusion Forcing at K = 10.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch
from omegaconf import OmegaConf

from benchmarks.recipes import compose
from benchmarks.timing import interleave, median, paired_ratio, spread
from benchmarks.training import train_step_fn

MODELS = {  # name -> (overrides, NFE)
    "one_step": (("algorithm=flow_forcing",), 1),
    "df_k10": (("algorithm=diffusion_forcing",), 10),
    "predictive": (("algorithm=predictive",), 1),
}
DATA = ("dataset=pong", "dataset.episodes.train=2", "dataset.episodes.validation=1",
        "dataset.episodes.test=1", "dataset.episode_length=96",
        f"dataset.cache_dir={Path(tempfile.gettempdir()) / 'odf-benchmark-frames'}")
TARGET_FPS, TARGET_RATIO = 30.0, 10.0


def built(overrides: tuple[str, ...]):
    """The algorithm and the dataset with a fresh (untrained) tokenizer of the default size."""
    from algorithms.tokenizer.fit import background_of
    from algorithms.tokenizer.frame_tokenizer import FrameTokenizer
    from datasets.video.datamodule import VideoDataModule

    cfg = compose(*DATA, *overrides, "experiment.tasks=[tokenizer,training]")
    data = VideoDataModule(cfg.dataset, cfg.seed, cfg.experiment.training.batch_size,
                           cfg.experiment.training.max_steps)
    frames = data.split_frames("train").reshape(-1, *data.frame_shape)
    torch.manual_seed(0)
    data.attach_tokenizer(FrameTokenizer.new(int(cfg.dataset.size), data.frame_shape[2],
                                             cfg.dataset.tokenizer, background_of(frames)))
    from experiments.components import build_algorithm

    return cfg, build_algorithm(cfg, data), data


def frame_timer(overrides: tuple[str, ...], nfe: int, frames: int, decode: bool = True
                ) -> Callable[[], float]:
    """Seconds per frame at batch 1: a streamed token given the action, then decoded (`decode`
    false: the token alone, what the models differ in)."""
    from algorithms.generation.streaming import make_sampler

    cfg, algo, data = built(overrides)
    network = algo.generation_network.eval()
    streams = make_sampler(network, OmegaConf.to_container(cfg.algorithm, resolve=True), nfe)
    G, actions = data.token_dim, data.given_dim
    context = data.split("test")[:1, :int(cfg.dataset.context_tokens)]
    given = torch.eye(actions)[torch.arange(frames) % actions][:, None]  # [frames, 1, A]

    def play() -> float:
        streams.reset(1)
        for j in range(context.shape[1]):
            streams.observe(context[:, j, :G], context[:, j, G:])
        start = time.perf_counter()
        with torch.no_grad():
            for k in range(frames):
                token = streams.step(given=given[k])
                if decode:
                    data.decode(token)
        return (time.perf_counter() - start) / frames

    play()  # warm-up
    return play


def training_timer(overrides: tuple[str, ...], steps: int) -> Callable[[], float]:
    """Seconds per training frame (a step's batch x window tokens), as `benchmarks.training`."""
    cfg, algo, data = built(overrides)
    train_step = train_step_fn(algo, cfg)
    stream = iter(data.train_dataloader())
    batches = [next(stream) for _ in range(steps)]
    per_step = batches[0].shape[0] * batches[0].shape[1]

    def timed() -> float:
        start = time.perf_counter()
        for batch in batches:
            train_step(batch)
        return (time.perf_counter() - start) / (steps * per_step)

    train_step(batches[0])
    return timed


def run(rounds: int = 5, frames: int = 64, steps: int = 4) -> dict[str, float]:
    play = {f"play_{n}": frame_timer(o, k, frames) for n, (o, k) in MODELS.items()}
    play.update({f"token_{n}": frame_timer(o, k, frames, decode=False)
                 for n, (o, k) in MODELS.items()})
    train = {f"train_{n}": training_timer(o, steps) for n, (o, _) in MODELS.items()
             if n != "df_k10"}
    train["train_df"] = training_timer(MODELS["df_k10"][0], steps)
    seconds = interleave({**play, **train}, rounds)
    figures = {f"video_fps_{n}": 1.0 / median(seconds[f"play_{n}"]) for n in MODELS}
    figures.update({f"video_train_frames_per_s_{n.removeprefix('train_')}": 1.0 / median(s)
                    for n, s in seconds.items() if n.startswith("train_")})
    for other in ("df_k10", "predictive"):
        figures[f"video_fps_ratio_one_step_over_{other}"] = paired_ratio(
            seconds[f"play_{other}"], seconds["play_one_step"])
        figures[f"video_token_ratio_one_step_over_{other}"] = paired_ratio(
            seconds[f"token_{other}"], seconds["token_one_step"])
    print(f"video on pong (64x64 grey, 256-number tokens, default recipes; median of {rounds} "
          f"interleaved rounds):")
    for n in MODELS:
        print(f"  play {n:<11} {figures[f'video_fps_{n}']:8.1f} frames/s at batch 1 (ms a frame: "
              f"{spread([1e3 * x for x in seconds[f'play_{n}']])})")
    print(f"  tokens alone (no decoder): one-step / DF K=10 = "
          f"{figures['video_token_ratio_one_step_over_df_k10']:.2f}x, one-step / predictive = "
          f"{figures['video_token_ratio_one_step_over_predictive']:.2f}x")
    for n in ("one_step", "predictive", "df"):
        print(f"  train {n:<10} {figures[f'video_train_frames_per_s_{n}']:8.0f} frames/s")
    fps, ratio = figures["video_fps_one_step"], figures["video_fps_ratio_one_step_over_df_k10"]
    print(f"  one-step {fps:.1f} frames/s (target >= {TARGET_FPS:.0f}: "
          f"{'met' if fps >= TARGET_FPS else 'NOT met'}); one-step / DF K=10 = {ratio:.2f}x "
          f"(target >= {TARGET_RATIO:.0f}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'})")
    return figures


def main() -> None:
    from benchmarks.machine import machine_line

    parser = argparse.ArgumentParser(prog="python -m benchmarks.video")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    print(machine_line())
    run(args.rounds, args.frames, args.steps)


if __name__ == "__main__":
    main()
