"""Config checks in-process: the composed real configs pass, bad values name their key."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from algorithms import ALGORITHM_REGISTRY
from datasets import DATASET_REGISTRY
from experiments import EXPERIMENT_REGISTRY
from experiments import command_line as main
from experiments.run_config import validate_config
from utils.config_checks import ConfigError


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
        "error: algorithm=nope: unknown; choose one of diffusion_forcing, ets, flow_forcing, "
        "flow_forcing_seed, meanflow, predictive, seasonal_naive")


@pytest.mark.parametrize("overrides,message", [
    (["+algorithm.head.colour=red"],
     "algorithm.head.colour: unknown key; allowed: width, depth, time_dim, time_scale, prediction"),
    (["algorithm=predictive", "+algorithm.loss.flow_weight=2"], "algorithm.loss: unknown key; allowed: "),
    (["algorithm=predictive", "+algorithm.sampling.stabilization_noise=0.1"],
     "algorithm.sampling: unknown key"),
    (["algorithm.head.width=wide"], "algorithm.head.width=wide: must be an integer"),
    (["algorithm.context.level_input=maybe"], "algorithm.context.level_input=maybe: must be true or false"),
    (["algorithm.backbone.name=transformer"],
     "algorithm.backbone.name=transformer: must be one of gru, lstm, mingru, minlstm, selective_ssm"),
    (["algorithm=diffusion_forcing", "algorithm.sampling.schedule=zigzag"],
     "algorithm.sampling.schedule=zigzag: must be one of autoregressive, pyramid"),
    (["algorithm.loss.objective=gan"], "algorithm.loss.objective=gan: must be one of shortcut, meanflow"),
    (["algorithm.context.features=[position,speed]"],
     "algorithm.context.features=['position', 'speed']: must be one of position, delta (each entry)"),
    (["~algorithm.head.width"], "algorithm.head.width: missing; the algorithm flow_forcing needs it"),
])
def test_the_algorithm_schema_checks_names_types_and_choices(overrides: list[str],
                                                             message: str) -> None:
    with pytest.raises(ConfigError) as error:
        check(*overrides)
    assert str(error.value).startswith(message) and "\n" not in str(error.value), str(error.value)


def test_every_algorithm_declares_its_keys() -> None:
    from algorithms.base.config_schema import TrajectoryModelSchema
    from algorithms.classical.forecaster import ClassicalSchema

    for name, owner in ALGORITHM_REGISTRY.items():
        trained = getattr(owner, "trainable", True)  # the classical references have no network
        schema = TrajectoryModelSchema if trained else ClassicalSchema
        assert issubclass(owner.config_schema, schema), name
