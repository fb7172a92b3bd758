"""Finding runs: by folder, by wandb id under the run roots, and from wandb when online (here
against a stand-in for `wandb.Api`, since CI has no network)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
import torch
import yaml

from utils.config_checks import ConfigError
from utils.run_info import read_run_info, update_run_info
from utils.run_lookup import fetch_online_run, find_run, resolve_checkpoint


def make_run(folder: Path, wandb_id: str | None) -> Path:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("- seed=3\n")
    update_run_info(folder, wandb_id=wandb_id, status="finished")
    return folder


def test_find_by_folder_or_unique_id(tmp_path: Path) -> None:
    run = make_run(tmp_path / "outputs" / "a", "abc")
    make_run(tmp_path / "multirun" / "x" / "0", "def")
    roots = [tmp_path / "outputs", tmp_path / "multirun"]
    assert find_run(str(run), "resume", roots) == run.resolve()
    assert find_run("def", "resume", roots) == (tmp_path / "multirun" / "x" / "0").resolve()
    with pytest.raises(ConfigError, match="no run folder and no run with this wandb id"):
        find_run("zzz", "resume", roots)
    make_run(tmp_path / "outputs" / "b", "abc")
    with pytest.raises(ConfigError, match="wandb id found in 2 run folders"):
        find_run("abc", "resume", roots)
    with pytest.raises(ConfigError, match="has no checkpoints/last.ckpt yet"):
        resolve_checkpoint(str(run), "load", roots)


class FakeArtifact:
    def __init__(self, checkpoint: bytes | None) -> None:
        self.checkpoint = checkpoint

    def download(self, root: str) -> str:
        Path(root).mkdir(parents=True, exist_ok=True)
        (Path(root) / "model.ckpt").write_bytes(self.checkpoint)
        return root


def fake_wandb(config: dict, checkpoint: bytes | None, calls: list) -> types.ModuleType:
    class Api:
        def run(self, path: str):
            calls.append(("run", path))
            if path.endswith("missing"):
                raise ValueError("Could not find run missing")
            return types.SimpleNamespace(config=config)

        def artifact(self, name: str, type: str):
            calls.append(("artifact", name, type))
            if checkpoint is None:
                raise ValueError("no artifact")
            return FakeArtifact(checkpoint)

    return types.SimpleNamespace(Api=Api)  # type: ignore[return-value]


def test_online_run_is_rebuilt_from_its_config_and_checkpoint_artifact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = tmp_path / "state.ckpt"
    torch.save({"global_step": 7, "state_dict": {}}, buffer)
    calls: list = []
    monkeypatch.setitem(sys.modules, "wandb", fake_wandb(
        {"_overrides": ["seed=3", "+name=far"]}, buffer.read_bytes(), calls))
    folder = fetch_online_run("r1d", "me", "proj", tmp_path / "outputs")
    assert folder == (tmp_path / "outputs" / "resumed" / "r1d").resolve()
    assert calls == [("run", "me/proj/r1d"), ("artifact", "me/proj/model-r1d:latest", "model")]
    assert torch.load(folder / "checkpoints" / "last.ckpt")["global_step"] == 7
    assert yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text()) == ["seed=3", "+name=far"]
    info = read_run_info(folder)
    assert info["wandb_id"] == "r1d" and info["wandb_mode"] == "online"
    assert fetch_online_run("r1d", "me", "proj", tmp_path / "outputs") == folder  # found again
    assert len(calls) == 2


def test_online_fetch_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wandb", fake_wandb({}, None, []))
    with pytest.raises(ConfigError, match="^resume=missing: not found locally, and wandb could "
                                          "not fetch run me/proj/missing: Could not find run"):
        fetch_online_run("missing", "me", "proj", tmp_path)
    with pytest.raises(ConfigError, match="records no _overrides"):
        fetch_online_run("other", "me", "proj", tmp_path)


def test_online_run_without_checkpoint_starts_again(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wandb", fake_wandb({"_overrides": []}, None, []))
    folder = fetch_online_run("early", None, "proj", tmp_path)
    assert not (folder / "checkpoints" / "last.ckpt").exists()
    assert json.loads((folder / "run.json").read_text())["status"] == "running"
