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


def test_resume_passes_over_a_checkpoint_whose_log_row_was_never_written(tmp_path: Path) -> None:
    """Lightning writes step G's checkpoint before step G's log row: after a kill in between,
    the checkpoint before it is the one to continue from."""
    from utils.checkpoints import resumable_checkpoint

    for name, step in (("step_0000040.ckpt", 40), ("step_0000080.ckpt", 80), ("last.ckpt", 80)):
        torch.save({"global_step": step}, tmp_path / name)
    logged = set(range(1, 79, 2))  # every 2nd step logged, up to 77: the row of step 79 is missing
    assert resumable_checkpoint(tmp_path, logged, 2) == tmp_path / "step_0000040.ckpt"
    assert resumable_checkpoint(tmp_path, logged | {79}, 2) == tmp_path / "last.ckpt"
    # Logging every 50 steps: the last row due before step 80 is step 49.
    assert resumable_checkpoint(tmp_path, {49}, 50) == tmp_path / "last.ckpt"
    # Step 40 needs no row at every 50 steps; step 80 needs step 49's.
    assert resumable_checkpoint(tmp_path, set(), 50) == tmp_path / "step_0000040.ckpt"
    assert resumable_checkpoint(tmp_path / "none", set(), 50) is None
