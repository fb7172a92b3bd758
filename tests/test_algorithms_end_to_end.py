"""Every algorithm × backbone pair, and every algorithm on the seed's network, trains and
rolls out through `python -m main` (shrunk to 4 steps; one Hydra multirun per test)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from algorithms.networks.backbones import BACKBONES
from tests.conftest import SHRINK, run_main

pytestmark = pytest.mark.slow

TINY = [*(o for o in SHRINK if not o.startswith(("experiment.training.max_steps",
                                                 "experiment.training.checkpoint_every",
                                                 "experiment.validation.every_n_steps"))),
        "experiment.training.max_steps=4", "experiment.training.checkpoint_every_n_steps=4",
        "experiment.validation.every_n_steps=4", "wandb.mode=disabled"]

ALGORITHMS = {
    "flow_forcing": ["algorithm=flow_forcing"],
    "meanflow": ["algorithm=meanflow", "algorithm.loss.adaptive_p=1.0"],
    "predictive": ["algorithm=predictive"],
    "diffusion_forcing": ["algorithm=diffusion_forcing", "experiment.rollout.nfe=3"],
    "diffusion_forcing_pyramid": ["algorithm=diffusion_forcing", "experiment.rollout.nfe=2",
                                  "algorithm.sampling.schedule=pyramid",
                                  "algorithm.sampling.chunk=3"],
}


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_every_backbone_trains_and_rolls_out(algorithm: str, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    run_main("-m", *TINY, *ALGORITHMS[algorithm], f"hydra.sweep.dir={sweep}",
             f"algorithm.backbone.name={','.join(BACKBONES)}", cwd=tmp_path, timeout=600)
    for job, backbone in enumerate(BACKBONES):
        run = sweep / str(job)
        assert f"name: {backbone}" in (run / ".hydra" / "config.yaml").read_text(), run
        assert (run / "checkpoints" / "last.ckpt").is_file(), backbone
        samples = np.load(run / "rollout" / "samples.npz")["samples"]
        assert samples.shape == (24, 40, 2) and np.isfinite(samples).all(), backbone
        metrics = json.loads((run / "rollout" / "metrics.json").read_text())
        assert metrics["algorithm"] == ALGORITHMS[algorithm][0].split("=")[1].replace(
            "meanflow", "flow_forcing"), backbone  # algorithm=meanflow: flow_forcing's module


def test_every_algorithm_runs_on_the_seed_network(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    algorithms = ["flow_forcing", "predictive", "diffusion_forcing"]
    run_main("-m", *TINY, f"algorithm={','.join(algorithms)}", "algorithm.network.kind=seed",
             "algorithm.frame=global", "experiment.rollout.nfe=2", f"hydra.sweep.dir={sweep}", cwd=tmp_path, timeout=600)
    for job, algorithm in enumerate(algorithms):
        run = sweep / str(job)
        assert "kind: seed" in (run / ".hydra" / "config.yaml").read_text(), run
        samples = np.load(run / "rollout" / "samples.npz")["samples"]
        assert samples.shape == (24, 40, 2) and np.isfinite(samples).all(), algorithm
        metrics = json.loads((run / "rollout" / "metrics.json").read_text())
        assert metrics["algorithm"] == algorithm and metrics["nfe"] == 2
