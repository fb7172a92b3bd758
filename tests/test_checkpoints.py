"""Checkpoint writes are atomic: a failure mid-write leaves the previous file intact."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import utils.checkpoints as checkpoints
from utils.checkpoints import AtomicCheckpointIO, read_global_step


def test_a_write_that_dies_midway_leaves_the_old_checkpoint(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"global_step": 1, "state_dict": {"w": torch.ones(3)}}, target)
    assert read_global_step(target) == 1

    def dies_midway(obj, file) -> None:
        file.write(b"\x80\x02partial")  # some bytes reach the disk, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints.torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"global_step": 2, "state_dict": {}}, target)
    monkeypatch.undo()
    assert read_global_step(target) == 1  # the old checkpoint, whole
    assert torch.equal(torch.load(target, weights_only=False)["state_dict"]["w"], torch.ones(3))
