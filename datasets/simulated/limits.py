"""Physical-constraint scores of observations `[..., obs_dim]` (generated or real; numpy or
torch) of a control task, from what the task's model says (`control.task_facts`).

`constraint_scores(env, observations)` -> a dict of floats, per task:
- every task with cos/sin channel pairs (Pendulum, Reacher): `unit_circle_error`, the mean
  |cos² + sin² - 1| over tokens and pairs (real data: float32 rounding only, < 1e-6);
- Pendulum: `speed_limit_violation_rate`, the share of tokens with |θdot| > 8 (the env clips θdot
  to its max speed) + `SPEED_TOLERANCE`;
- MuJoCo tasks: `joint_limit_violation_rate`, the share of (token, limited joint) pairs whose angle
  lies outside the model's `jnt_range` by more than the task's `JOINT_LIMIT_TOLERANCE`, and
  `joint_limit_excess_mean`, the mean distance outside the range with no tolerance (real data are
  not 0 here: compare with theirs). MuJoCo joint limits are soft and the real simulator passes them:
  the tolerances are a little above the largest excess measured in real episodes (see the table).
  Only joints observed as positions count: Reacher's arm joints appear as cos/sin, and its elbow's
  ±3 rad limit lies 0.14 rad from ±π, where an overshoot wraps round (atan2 cannot tell it from
  the other side), so for Reacher only the target's slides (±0.27 m) are checked;
- Hopper, Walker2d: `unhealthy_rate`, the share of tokens outside the env's healthy z / angle
  (Hopper: and state) ranges (real episodes go on after a fall, so real data score well above 0:
  compare with theirs), and `velocity_clip_violation_rate`, the share of velocity values beyond
  the ±10 their observation is clipped to (+ `SPEED_TOLERANCE`).
Non-finite values count as violations (and make the means non-finite).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from datasets.simulated.control import TaskFacts, task_facts

SPEED_TOLERANCE = 1e-3
# Radians (metres for slides) beyond jnt_range that still count as inside: a little above the
# largest excess in real episodes (persistent random actions with hold_mean 1, 5 and 20, 64
# episodes x 1000 tokens each, seed 0): HalfCheetah 0.191, Hopper 0.229, Walker2d 0.790 (strong
# motors on soft limits), Reacher's target 0 (it never moves).
JOINT_LIMIT_TOLERANCE: dict[str, float] = {
    "HalfCheetah-v5": 0.3, "Hopper-v5": 0.3, "Walker2d-v5": 1.0, "Reacher-v5": 0.01,
}


def _as_array(observations: Any, facts: TaskFacts) -> np.ndarray:
    """`[..., obs_dim]` numpy or torch -> float64 `[M, obs_dim]`."""
    if hasattr(observations, "detach"):
        observations = observations.detach().cpu().numpy()
    x = np.asarray(observations, dtype=np.float64)
    width = len(facts.names["observation"])
    if x.ndim < 1 or x.shape[-1] != width:
        raise ValueError(f"{facts.env_id} observations must be [..., {width}], got {x.shape}")
    return x.reshape(-1, width)


def _angles(x: np.ndarray, facts: TaskFacts) -> tuple[list[str], np.ndarray]:
    """The limited joints whose position the observation holds, and those positions `[M, J]`."""
    names = facts.names["observation"]
    joints, columns = [], []
    for joint in facts.joint_ranges:
        if f"qpos_{joint}" in names:
            columns.append(x[:, names.index(f"qpos_{joint}")])
            joints.append(joint)
    return joints, np.stack(columns, axis=1) if columns else np.zeros((len(x), 0))


def joint_limit_excess(env_id: str, observations: Any,
                       env_kwargs: dict[str, Any] | None = None) -> np.ndarray:
    """How far outside its `jnt_range` each limited joint is, `[M, J]` (0 inside, inf when not
    finite; M tokens, J the limited joints whose position the observation holds, in
    `task_facts(...).joint_ranges` order)."""
    facts = task_facts(env_id, env_kwargs)
    x = _as_array(observations, facts)
    joints, angles = _angles(x, facts)
    low = np.array([facts.joint_ranges[j][0] for j in joints])
    high = np.array([facts.joint_ranges[j][1] for j in joints])
    excess = np.maximum(np.maximum(low - angles, angles - high), 0.0)
    return np.where(np.isfinite(angles), excess, np.inf)


def constraint_scores(env_id: str, observations: Any,
                      env_kwargs: dict[str, Any] | None = None) -> dict[str, float]:
    """The task's constraint scores (module docstring) of observations `[..., obs_dim]`."""
    facts = task_facts(env_id, env_kwargs)
    x = _as_array(observations, facts)
    names = facts.names["observation"]
    scores: dict[str, float] = {}
    pairs = [(names.index(n), names.index("sin_" + n[4:])) for n in names
             if n.startswith("cos_") and "sin_" + n[4:] in names]
    if pairs:
        c, s = x[:, [p[0] for p in pairs]], x[:, [p[1] for p in pairs]]
        scores["unit_circle_error"] = float(np.mean(np.abs(c ** 2 + s ** 2 - 1.0)))
    if facts.max_speed is not None:
        speed = np.abs(x[:, names.index("theta_dot")])
        scores["speed_limit_violation_rate"] = float(np.mean(
            ~(speed <= facts.max_speed + SPEED_TOLERANCE)))
    excess = joint_limit_excess(facts.env_id, x, facts.env_kwargs)
    if excess.shape[1]:
        tolerance = JOINT_LIMIT_TOLERANCE[facts.env_id]
        scores["joint_limit_violation_rate"] = float(np.mean(~(excess <= tolerance)))
        scores["joint_limit_excess_mean"] = float(np.mean(excess))
    if facts.healthy is not None:
        h = facts.healthy
        z, angle = x[:, names.index(h["z_channel"])], x[:, names.index(h["angle_channel"])]
        healthy = ((h["z"][0] < z) & (z < h["z"][1])
                   & (h["angle"][0] < angle) & (angle < h["angle"][1]))
        if "state" in h:
            state = x[:, [names.index(n) for n in h["state_channels"] if n in names]]
            healthy &= np.all((h["state"][0] < state) & (state < h["state"][1]), axis=1)
        scores["unhealthy_rate"] = float(np.mean(~healthy))
    if facts.velocity_clip is not None:
        v = x[:, [i for i, n in enumerate(names) if n.startswith("qvel_")]]
        scores["velocity_clip_violation_rate"] = float(np.mean(
            ~(np.abs(v) <= facts.velocity_clip + SPEED_TOLERANCE)))
    return scores
