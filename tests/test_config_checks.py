"""Config checks in-process: the composed real configs pass, bad values name their key."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from utils import command_line as main
from algorithms import ALGORITHM_REGISTRY
from datasets import DATASET_REGISTRY
from experiments import EXPERIMENT_REGISTRY
from utils.config_checks import ConfigError, validate_config


def composed(*overrides: str):
    with initialize_config_dir(str(main.CONFIG_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def check(*overrides: str) -> None:
    validate_config(composed(*overrides))


@pytest.mark.parametrize("choice", ["algorithm=flow_forcing", "algorithm=predictive",
                                    "algorithm=diffusion_forcing", "algorithm=flow_forcing_seed"])
def test_shipped_configs_are_valid(choice: str) -> None:
    check(choice)
    # Every registered algorithm has its YAML; a further YAML is a recipe of one of them.
    options = set(main.group_options("algorithm"))
    assert set(ALGORITHM_REGISTRY) <= options
    assert {composed(f"algorithm={o}").algorithm.name for o in options} == set(ALGORITHM_REGISTRY)
    assert set(main.group_options("dataset")) == set(DATASET_REGISTRY)
    assert set(main.group_options("experiment")) == set(EXPERIMENT_REGISTRY)


@pytest.mark.parametrize("override,message", [
    ("algorithm.head.time_dim=7", "algorithm.head.time_dim=7: must be a positive even integer"),
    ("algorithm.ema.decay=1.5", "algorithm.ema.decay=1.5: must be null or a number in [0, 1)"),
    ("algorithm.context.features=[speed]", "algorithm.context.features=['speed']"),
    ("algorithm.context.noise_max=-1", "algorithm.context.noise_max=-1"),
    ("dataset.centre_high=-3", "dataset.centre_high=-3: must be a number above dataset.centre_low"),
    ("dataset.radius=0", "dataset.radius=0: must be a positive number"),
    ("experiment.training.batch_size=2.5", "experiment.training.batch_size=2.5"),
    ("experiment.training.devices=0", "experiment.training.devices=0"),
    ("experiment.rollout.nfe=[1,0]", "experiment.rollout.nfe=[1, 0]"),
    ("experiment.validation.every_n_steps=0", "experiment.validation.every_n_steps=0"),
    ("seed=-1", "seed=-1: must be a non-negative integer"),
])
def test_bad_values_name_their_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        check(override)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_group_precheck_accepts_sweeps_and_rejects_unknown_names(capsys) -> None:
    main.check_group_choices(["algorithm=flow_forcing,predictive", "seed=1", "-m",
                              "dataset=choice(circular_arcs)"])
    with pytest.raises(SystemExit) as exit_:
        main.check_group_choices(["algorithm=flow_forcing,nope"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "error: algorithm=nope: unknown; choose one of diffusion_forcing, flow_forcing, flow_forcing_seed, meanflow, predictive")
