"""Optional dependency groups (`utils/packages.py`, `requirements/<group>.txt`): a run that needs
a package the machine lacks stops with one line naming the command that installs it, and every
group the code names has its requirements file."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from datasets import DATASET_REGISTRY
from experiments import command_line
from experiments.run_config import registries, validate_config
from tests.conftest import REPO, run_main_without
from utils.cluster.config_checks import CLUSTER_EXTRA
from utils.config_checks import ConfigError
from utils.packages import REQUIREMENTS_DIR, Extra


def composed(*overrides: str):
    with initialize_config_dir(str(command_line.CONFIG_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def test_an_extra_names_its_missing_modules_and_the_install_command() -> None:
    assert Extra("dev", ("json", "pytest")).missing() == []
    Extra("dev", ("json",)).require("anything")  # present: no error
    extra = Extra("cluster", ("json", "no_such_module_xyz", "another_missing_one"))
    assert extra.missing() == ["no_such_module_xyz", "another_missing_one"]
    with pytest.raises(ConfigError) as error:
        extra.require("dataset=thing")
    assert str(error.value) == (
        "dataset=thing: needs the packages no_such_module_xyz, another_missing_one (the cluster "
        "group); install it with pip install -r requirements/cluster.txt")


def test_a_dataset_with_a_missing_package_stops_the_run_in_one_line(monkeypatch) -> None:
    class NeedsAPackage(DATASET_REGISTRY["circular_arcs"]):
        EXTRA = Extra("cluster", ("no_such_module_xyz",))

    monkeypatch.setitem(DATASET_REGISTRY, "circular_arcs", NeedsAPackage)
    with pytest.raises(ConfigError) as error:
        validate_config(composed())
    assert str(error.value) == ("dataset=circular_arcs: needs the package no_such_module_xyz (the "
                                "cluster group); install it with pip install -r "
                                "requirements/cluster.txt")


def test_every_group_the_code_names_has_its_requirements_file() -> None:
    extras = [CLUSTER_EXTRA] + [getattr(owner, "EXTRA", None) for registry in registries().values()
                                for owner in registry.values()]
    for extra in filter(None, extras):
        path = REQUIREMENTS_DIR / f"{extra.group}.txt"
        assert path.is_file(), path
        assert any(line.strip() and not line.startswith("#") for line in path.read_text().splitlines())
    # The base install holds no package of an optional group.
    base = (REPO / "requirements.txt").read_text()
    assert "submitit" not in base and "pytest" not in base


def test_slurm_without_submitit_says_how_to_install_it(tmp_path: Path) -> None:
    result = run_main_without("submitit", "cluster=local", "wandb.mode=disabled",
                              f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip() == (
        "error: cluster (Slurm submission): needs the package submitit (the cluster group); install it with "
        "pip install -r requirements/cluster.txt")
    assert not (tmp_path / "r").exists()
