"""The configurations the benchmarks compare, composed from the real YAML with Hydra's compose
API and checked as `python -m main` checks them, and the models and data built from them.

The seed-faithful configuration is the README's "first seed's recipe and architecture": the
seed's network (the noisy token enters the recurrence, every loss pass reruns it), the global
frame, absolute tokens, the surrogate context, no full jumps, no EMA (what
`algorithm=flow_forcing_seed` holds, spelled out here key by key). The seed's size: batch 32, a
2-layer GRU of width 256, head width 256. Every other key is the default recipe's, whatever it
is when the benchmark runs: the figures measure the current `python -m main`.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from algorithms.base.trajectory_model import TrajectoryModel

REPO = Path(__file__).resolve().parents[1]
SEED_SIZE = ("algorithm.backbone.hidden_size=256", "algorithm.backbone.num_layers=2",
             "algorithm.head.width=256", "experiment.training.batch_size=32")
SEED_RECIPE = ("algorithm.network.kind=seed", "algorithm.frame=global",
               "algorithm.token_space=absolute",
               "algorithm.context.corruption=surrogate",
               "algorithm.time_sampler.full_jump_prob=0", "algorithm.ema.decay=null")
DESIGNS = {
    "default": ("algorithm=flow_forcing",),
    "seed_faithful": ("algorithm=flow_forcing", *SEED_RECIPE),
    "predictive": ("algorithm=predictive",),
}


def compose(*overrides: str) -> DictConfig:
    """The root config of `python -m main <overrides>`, checked and resolved as main.py does
    (`validate_config`, then `resolve_auto`: every `auto` choice becomes a concrete value)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from experiments.components import resolve_auto
    from experiments.run_config import validate_config

    with initialize_config_dir(config_dir=str(REPO / "configurations"), version_base="1.3"):
        cfg = hydra_compose(config_name="config", overrides=list(overrides))
    validate_config(cfg)
    resolve_auto(cfg)
    return cfg


def build(cfg: DictConfig) -> tuple[TrajectoryModel, object]:
    """The LightningModule (its network initialised from `cfg.seed`) and the datamodule."""
    import torch

    from experiments.components import build_algorithm, build_datamodule

    data = build_datamodule(cfg)
    torch.manual_seed(cfg.seed)
    algo = build_algorithm(cfg, data)
    return algo, data
