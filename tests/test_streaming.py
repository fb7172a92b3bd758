"""The streaming generator (algorithms/generation/streaming.py): built from real checkpoints of
`python -m main`, it gives exactly the rollout task's tokens, uses the EMA, takes given noise,
and needs neither Lightning nor Hydra at run time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from algorithms.base.trajectory_model import ROLLOUT_STREAM
from algorithms.generation.sampler import rollout
from algorithms.generation.streaming import (
    generate,
    load_generation_network,
    make_sampler,
    open_streams,
)
from benchmarks.recipes import SEED_RECIPE
from tests.conftest import REPO, SHRINK, run_main
from utils.seeding import stream_generator

pytestmark = pytest.mark.slow  # real (shrunk) runs of python -m main

# name -> (overrides, rollout NFE)
RUNS = {
    "global": (["algorithm.frame=global"], 1),
    "heading": (["algorithm.frame=heading"], 1),
    # stabilisation noise on (the default is 0): the fed-back noise path is what is tested
    "diffusion_forcing": (["algorithm=diffusion_forcing", "algorithm.sampling.stabilization_noise=0.02"], 3),
    "seed_recipe": (list(SEED_RECIPE), 2),
}


@pytest.fixture(scope="session")
def shrunk_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One shrunk run per entry of RUNS (training, then the rollout task): name -> run folder.
    test_export.py imports this fixture, which makes a second definition of it: the runs live
    at a fixed place under the session's temporary folder, so the second one finds them."""
    runs = {name: tmp_path_factory.getbasetemp() / "streaming_runs" / name for name in RUNS}
    if all((run / "rollout" / "samples.npz").is_file() for run in runs.values()):
        return runs
    cwd = tmp_path_factory.mktemp("cwd")
    for name, (overrides, nfe) in RUNS.items():
        run_main(*SHRINK, *overrides, f"experiment.rollout.nfe={nfe}", "wandb.mode=disabled",
                 "experiment.rollout.horizon=40", "experiment.tasks=[training,rollout]",
                 f"hydra.run.dir={runs[name]}", cwd=cwd)
    return runs


def rollout_task_samples(run: Path) -> torch.Tensor:
    return torch.from_numpy(np.load(run / "rollout" / "samples.npz")["samples"])


@pytest.mark.parametrize("name", list(RUNS))
def test_streams_give_the_rollout_tasks_tokens(shrunk_runs: dict[str, Path], name: str) -> None:
    """The rollout task (EMA weights when there are any, seed 0, batches of 16 streams, its own
    noise stream) wrote samples.npz; streams opened on last.ckpt reproduce it bit for bit."""
    run, nfe = shrunk_runs[name], RUNS[name][1]
    expected = rollout_task_samples(run)
    generator = stream_generator(0, ROLLOUT_STREAM, nfe)
    parts, total = [], expected.shape[0]
    for start in range(0, total, 16):  # experiment.rollout.batch_size=16 in SHRINK
        streams = open_streams(run / "checkpoints" / "last.ckpt", min(16, total - start), nfe)
        parts.append(generate(streams, expected.shape[1], generator=generator))
    assert torch.equal(torch.cat(parts), expected)


def test_the_ema_is_used_when_there_is_one(shrunk_runs: dict[str, Path]) -> None:
    ema = load_generation_network(shrunk_runs["global"] / "checkpoints" / "last.ckpt")
    raw = load_generation_network(shrunk_runs["global"] / "checkpoints" / "last.ckpt",
                                  ema=False)
    none = load_generation_network(shrunk_runs["seed_recipe"] / "checkpoints" / "last.ckpt")
    assert (ema.weights, raw.weights, none.weights) == ("ema", "raw", "raw")
    assert ema.global_step == 12
    weight = "backbone.rnn.weight_hh_l0"
    assert not torch.equal(ema.network.state_dict()[weight], raw.network.state_dict()[weight])
    assert not any(p.requires_grad for p in ema.network.parameters())


@pytest.mark.parametrize("name", ["global", "heading", "diffusion_forcing"])
def test_given_noise_gives_the_rollouts_tokens(shrunk_runs: dict[str, Path], name: str) -> None:
    """Noise passed in is the noise `rollout` draws itself (diffusion_forcing: the stabilisation
    noise still comes from the generator, drawn after each token's noise, as in `rollout`)."""
    loaded = load_generation_network(shrunk_runs[name] / "checkpoints" / "last.ckpt")
    nfe = RUNS[name][1]
    reference = make_sampler(loaded.network, loaded.config, nfe)
    expected = rollout(loaded.network, 5, 20, nfe, generator=torch.Generator().manual_seed(3),
                       solver=reference.solver, context_noise=reference.context_noise)
    draws = torch.Generator().manual_seed(3)
    streams = make_sampler(loaded.network, loaded.config, nfe)
    streams.reset(5)
    tokens = []
    for _ in range(20):
        noise = torch.randn(5, 2, generator=draws)
        tokens.append(streams.step(noise, generator=draws))
    assert torch.equal(torch.stack(tokens, dim=1), expected)


def test_pyramid_schedule_is_refused(shrunk_runs: dict[str, Path]) -> None:
    loaded = load_generation_network(shrunk_runs["diffusion_forcing"] / "checkpoints" / "last.ckpt")
    loaded.config["sampling"]["schedule"] = "pyramid"
    with pytest.raises(ValueError, match="pyramid"):
        make_sampler(loaded.network, loaded.config, 2)


def test_a_file_that_is_no_checkpoint_is_refused(tmp_path: Path) -> None:
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.ckpt")
    with pytest.raises(ValueError, match="not a checkpoint of `python -m main`"):
        load_generation_network(tmp_path / "foreign.ckpt")
    with pytest.raises(FileNotFoundError):
        load_generation_network(tmp_path / "missing.ckpt")


def test_no_lightning_or_hydra_at_run_time(shrunk_runs: dict[str, Path]) -> None:
    """A fresh interpreter imports the module, builds streams from a checkpoint and generates;
    neither pytorch_lightning nor hydra gets imported (needs `algorithms/__init__.py` to build
    its registry of LightningModules lazily)."""
    checkpoint = str(shrunk_runs["heading"] / "checkpoints" / "last.ckpt")
    code = (
        "import sys\n"
        "from algorithms.generation.streaming import open_streams, generate\n"
        f"streams = open_streams({checkpoint!r}, 4)\n"
        "assert generate(streams, 10).shape == (4, 10, 2)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pytorch_lightning', 'lightning', 'hydra'))\n"
        "print('imported:', loaded[:5])\n"
        "sys.exit(1 if loaded else 0)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            cwd=REPO, timeout=120)
    assert result.returncode == 0, (
        f"{result.stdout}{result.stderr[-2000:]}\n(algorithms/__init__.py must not import the "
        f"LightningModules when a plain submodule is imported: build ALGORITHM_REGISTRY lazily)")
