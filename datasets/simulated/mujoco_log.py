"""MuJoCo's warnings routed to stderr, once per distinct message.

Unhandled, MuJoCo prints each warning and appends it to `MUJOCO_LOG.TXT` in the current
directory (e.g. gymnasium's HalfCheetah model uses a deprecated `settotalmass` attribute, one
warning per env made): a run would write outside its run folder. A handler of our own stops both.
"""

from __future__ import annotations

import sys

_seen: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _seen:
        _seen.add(message)
        print(f"mujoco: {message.strip()}", file=sys.stderr, flush=True)


def route_mujoco_warnings() -> None:
    """Install the handler (idempotent); nothing when MuJoCo is not installed."""
    try:
        import mujoco
    except ImportError:
        return
    if mujoco.get_mju_user_warning() is not _warn_once:
        mujoco.set_mju_user_warning(_warn_once)
