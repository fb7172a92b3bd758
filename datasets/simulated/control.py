"""Fixed-length episodes of gymnasium control tasks (Pendulum-v1 and MuJoCo v5 tasks) for
action-conditioned dynamics models, and the real simulator replaying actions from a stored state.

`simulate_control(env, N, T, seed, policy)` gives an `Episodes` with three groups:
- `observation` `[N, T, obs_dim]`: what the env observes at each token;
- `action` `[N, T, act_dim]`: token j holds the action that LED to observation j, i.e. the one
  applied between observations j - 1 and j (clipped to the action space: exactly what the env
  received); `action[:, 0] = 0`;
- `sim_state` `[N, T, k]`: the full simulator state at each token (Pendulum: θ wrapped to
  [-π, π), θdot; MuJoCo: qpos then qvel), from which `replay` restores it exactly.

Exact restoration, with float32 storage: the simulator state is rounded to float32 at reset and
after every step (Pendulum's θ wrapped to [-π, π) first), so the stored float32 `sim_state` is
the state itself, not an approximation of it; a change of 1e-7 relative per step, far below anything
physical. For MuJoCo the solver's warm start is switched off (`mjDSBL_WARMSTART`: it starts from the
unconstrained acceleration), so a step depends on qpos, qvel and the action alone, and the
observation is recomputed from the rounded state (`mj_forward`, then the env's `_get_obs`), so it is
a function of the state (Reacher's fingertip would otherwise lag one substep). With both, `replay`
from any stored token reproduces the stored observations bit for bit.

Episodes are fixed-length: nothing ends early. Hopper and Walker2d run with
`terminate_when_unhealthy=False` (their `ENVIRONMENTS` defaults), the fall and what follows kept;
an env that still terminates raises. Reproducible from the one seed: episode i's env reset seed and
policy draws come from the i-th child of `np.random.SeedSequence(seed)` (the first n episodes are
the same whatever N).
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from datasets.simulated.episodes import Episodes
from datasets.simulated.mujoco_log import route_mujoco_warnings
from datasets.simulated.policies import MixturePolicy, build_policy

# task name -> its gymnasium id and the kwargs it always gets (a run's env_kwargs update them)
ENVIRONMENTS: dict[str, dict[str, Any]] = {
    "pendulum": {"env_id": "Pendulum-v1", "env_kwargs": {}},
    "half_cheetah": {"env_id": "HalfCheetah-v5", "env_kwargs": {}},
    "hopper": {"env_id": "Hopper-v5", "env_kwargs": {"terminate_when_unhealthy": False}},
    "walker2d": {"env_id": "Walker2d-v5", "env_kwargs": {"terminate_when_unhealthy": False}},
    "reacher": {"env_id": "Reacher-v5", "env_kwargs": {}},
}
GROUPS = ("observation", "action", "sim_state")


def resolve_environment(env: str, env_kwargs: dict[str, Any] | None = None
                        ) -> tuple[str, dict[str, Any]]:
    """A task name of `ENVIRONMENTS` or its gymnasium id -> (gymnasium id, the task's kwargs
    updated by `env_kwargs`)."""
    by_id = {v["env_id"]: k for k, v in ENVIRONMENTS.items()}
    name = env if env in ENVIRONMENTS else by_id.get(env)
    if name is None:
        raise ValueError(f"unknown control task {env!r}; allowed: {', '.join(ENVIRONMENTS)} "
                         f"(or their ids {', '.join(by_id)})")
    return ENVIRONMENTS[name]["env_id"], {**ENVIRONMENTS[name]["env_kwargs"], **(env_kwargs or {})}


def _round32(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).astype(np.float32).astype(np.float64)


class Simulator:
    """One env of a supported task with an exact, float32-representable state.

    `state_dim` k: Pendulum 2 (θ, θdot), MuJoCo nq + nv (qpos, qvel). `reset(seed)` and
    `restore(state)` return the observation `[obs_dim]` float32; `step(action)` returns the
    action the env received (`[act_dim]` float32, clipped) and the next observation."""

    def __init__(self, env: str, env_kwargs: dict[str, Any] | None = None) -> None:
        import gymnasium as gym

        route_mujoco_warnings()  # not into MUJOCO_LOG.TXT in the current directory
        self.env_id, self.env_kwargs = resolve_environment(env, env_kwargs)
        try:
            self._env = gym.make(self.env_id, disable_env_checker=True, **self.env_kwargs)
        except TypeError as error:
            bad = re.search(r"unexpected keyword argument '(\w+)'", str(error))
            raise ValueError(f"env_kwargs.{bad.group(1)}: not an option of {self.env_id}" if bad
                             else f"env_kwargs for {self.env_id}: {str(error).splitlines()[0]}"
                             ) from None
        self.unwrapped = self._env.unwrapped
        self.action_space = self._env.action_space
        self.observation_space = self._env.observation_space
        self.obs_dim = int(np.prod(self.observation_space.shape))
        self.act_dim = int(np.prod(self.action_space.shape))
        self._low = np.asarray(self.action_space.low, dtype=np.float32)
        self._high = np.asarray(self.action_space.high, dtype=np.float32)
        self.mujoco = hasattr(self.unwrapped, "model") and hasattr(self.unwrapped, "data")
        if self.mujoco:
            import mujoco

            self._mj = mujoco
            model = self.unwrapped.model
            if model.na != 0:
                raise ValueError(f"{self.env_id} has actuator activations (na={model.na}), which "
                                 f"qpos and qvel do not hold; not supported")
            model.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_WARMSTART)
            self.nq, self.nv = int(model.nq), int(model.nv)
            self.state_dim = self.nq + self.nv
        else:
            self.state_dim = 2
        self.dt = float(self.unwrapped.dt)

    def reset(self, seed: int) -> np.ndarray:
        """The env's own reset distribution, seeded; the state then rounded to float32."""
        self._env.reset(seed=int(seed))
        return self.restore(self.state(round_state=True))

    def state(self, round_state: bool = False) -> np.ndarray:
        """The simulator state `[k]` float64, as it is (after `reset` and `step` every value is
        a float32), or with `round_state` made so: Pendulum's θ wrapped to [-π, π), then every
        value rounded to float32."""
        if self.mujoco:
            s = np.concatenate([self.unwrapped.data.qpos, self.unwrapped.data.qvel])
        else:
            s = np.array(self.unwrapped.state, dtype=np.float64).reshape(-1)
            if round_state:
                s[0] = (s[0] + math.pi) % (2 * math.pi) - math.pi
        return _round32(s) if round_state else s

    def restore(self, state: np.ndarray) -> np.ndarray:
        """Set the exact state `[k]`; returns its observation `[obs_dim]` float32."""
        state = np.asarray(state, dtype=np.float64).reshape(-1)
        if state.shape != (self.state_dim,) or not np.all(np.isfinite(state)):
            raise ValueError(f"{self.env_id} needs a finite state of {self.state_dim} values, "
                             f"got shape {state.shape}")
        return self._apply(state)

    def _apply(self, state: np.ndarray) -> np.ndarray:
        if self.mujoco:
            data = self.unwrapped.data
            data.qpos[:] = state[:self.nq]
            data.qvel[:] = state[self.nq:]
            data.qacc_warmstart[:] = 0.0
            self._mj.mj_forward(self.unwrapped.model, data)
        else:
            self.unwrapped.state = state.copy()
        return np.asarray(self.unwrapped._get_obs(), dtype=np.float32).reshape(-1)

    def clip(self, action: np.ndarray) -> np.ndarray:
        """`[act_dim]` -> float32 inside the action space (what the env receives)."""
        a = np.asarray(action, dtype=np.float32).reshape(-1)
        if a.shape != (self.act_dim,):
            raise ValueError(f"{self.env_id} takes {self.act_dim} action values, got {a.shape}")
        return np.clip(a, self._low, self._high)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply the clipped action for one env step; the state is then rounded to float32.
        Returns (the action applied `[act_dim]` float32, the observation `[obs_dim]` float32)."""
        applied = self.clip(action)
        _, _, terminated, _, _ = self.unwrapped.step(applied)
        if terminated:
            raise RuntimeError(f"{self.env_id} terminated an episode; fixed-length episodes need "
                               f"an env that never does (Hopper/Walker2d: "
                               f"env_kwargs.terminate_when_unhealthy=False)")
        return applied, self._apply(self.state(round_state=True))

    def replay(self, start_state: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Restore `start_state` `[k]` and apply `actions` `[T, act_dim]` in order; returns the
        observations `[T + 1, obs_dim]` float32 (row 0 the start's, row t after t actions)."""
        actions = np.asarray(actions)
        if actions.ndim != 2 or actions.shape[1] != self.act_dim:
            raise ValueError(f"{self.env_id} replays actions [T, {self.act_dim}], got "
                             f"{actions.shape}")
        out = np.empty((len(actions) + 1, self.obs_dim), dtype=np.float32)
        out[0] = self.restore(start_state)
        for t, action in enumerate(actions):
            out[t + 1] = self.step(action)[1]
        return out

    def close(self) -> None:
        self._env.close()


def simulate_control(env_id: str, num_episodes: int, length: int, seed: int,
                     policy: dict[str, Any], env_kwargs: dict[str, Any] | None = None) -> Episodes:
    """`num_episodes` episodes of `length` tokens of a task (`ENVIRONMENTS` name or gymnasium
    id) under the behaviour `policy` (a `build_policy` spec). Groups `observation`
    `[N, T, obs_dim]`, `action` `[N, T, act_dim]` (row j: the action that led to observation j;
    row 0 zeros) and `sim_state` `[N, T, k]`, all float32. `meta` records the env id and kwargs,
    the policy, the seed, the channel names and, for a mixture, `policy_member` per episode."""
    for key, value, least in (("num_episodes", num_episodes, 1), ("length", length, 1),
                              ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{key} must be an integer >= {least}, got {value!r}")
    sim = Simulator(env_id, env_kwargs)
    behaviour = build_policy(policy, sim.action_space, sim.observation_space)
    obs = np.zeros((num_episodes, length, sim.obs_dim), dtype=np.float32)
    act = np.zeros((num_episodes, length, sim.act_dim), dtype=np.float32)
    state = np.zeros((num_episodes, length, sim.state_dim), dtype=np.float32)
    members: list[int] = []
    try:
        for i, episode_seeds in enumerate(np.random.SeedSequence(int(seed)).spawn(num_episodes)):
            reset_seeds, policy_seeds = episode_seeds.spawn(2)
            rng = np.random.default_rng(policy_seeds)
            o = sim.reset(int(reset_seeds.generate_state(1)[0]))
            behaviour.reset(rng)
            if isinstance(behaviour, MixturePolicy):
                members.append(behaviour.active)
            obs[i, 0], state[i, 0] = o, sim.state()
            for j in range(1, length):
                act[i, j], o = sim.step(behaviour(o, rng))
                obs[i, j], state[i, j] = o, sim.state()
    finally:
        sim.close()
    meta: dict[str, Any] = {
        "env_id": sim.env_id, "env_kwargs": sim.env_kwargs, "policy": _plain(policy),
        "seed": int(seed), "num_episodes": int(num_episodes), "length": int(length),
        "dt": sim.dt, "channels": {g: channel_names(sim.env_id, g, sim.env_kwargs) for g in GROUPS},
        "state_precision": "float32: rounded at reset and after every step",
    }
    if members:
        meta["policy_member"] = members
    return Episodes({"observation": obs, "action": act, "sim_state": state}, meta)


def replay(env_id: str, env_kwargs: dict[str, Any] | None, start_state: np.ndarray,
           actions: np.ndarray) -> np.ndarray:
    """The real simulator replaying `actions` `[T, act_dim]` from the exact `start_state` `[k]`
    (a `sim_state` row): observations `[T + 1, obs_dim]` float32, row 0 the start's. From token j
    of stored episodes: `replay(env, kw, sim_state[i, j], action[i, j + 1 : j + 1 + T])`
    reproduces `observation[i, j : j + 1 + T]`. Many replays: one `Simulator(...).replay` each."""
    sim = Simulator(env_id, env_kwargs)
    try:
        return sim.replay(start_state, actions)
    finally:
        sim.close()


@dataclass(frozen=True)
class TaskFacts:
    """What a task's model says: channel names per group, the limited joints' ranges
    (name -> (low, high)), the healthy ranges of Hopper/Walker2d (or None), Pendulum's max
    speed (or None), the velocity clip of the observation (or None) and dt."""

    env_id: str
    env_kwargs: dict[str, Any]
    names: dict[str, list[str]]
    joint_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    healthy: dict[str, Any] | None = None
    max_speed: float | None = None
    velocity_clip: float | None = None
    dt: float = 0.0


def task_facts(env_id: str, env_kwargs: dict[str, Any] | None = None) -> TaskFacts:
    """The `TaskFacts` of a task (`ENVIRONMENTS` name or gymnasium id); cached per kwargs."""
    env_id, kwargs = resolve_environment(env_id, env_kwargs)
    return _task_facts(env_id, json.dumps(kwargs, sort_keys=True, default=str))


def channel_names(env_id: str, group: str = "observation",
                  env_kwargs: dict[str, Any] | None = None) -> list[str]:
    """Readable names of a group's channels: Pendulum observation `cos_theta, sin_theta,
    theta_dot`; MuJoCo `qpos_<joint>`, `qvel_<joint>` (e.g. `qpos_bthigh`, `qvel_rootx`), Reacher
    also `cos_<joint>`, `sin_<joint>`, `fingertip_minus_target_x`; actions `action_<actuator>`."""
    if group not in GROUPS:
        raise ValueError(f"unknown channel group {group!r}; allowed: {', '.join(GROUPS)}")
    return list(task_facts(env_id, env_kwargs).names[group])


@functools.lru_cache(maxsize=32)
def _task_facts(env_id: str, kwargs_json: str) -> TaskFacts:
    sim = Simulator(env_id, json.loads(kwargs_json))
    try:
        u = sim.unwrapped
        if not sim.mujoco:
            names = {"observation": ["cos_theta", "sin_theta", "theta_dot"],
                     "action": ["torque"], "sim_state": ["theta", "theta_dot"]}
            return TaskFacts(sim.env_id, sim.env_kwargs, names, max_speed=float(u.max_speed),
                             dt=sim.dt)
        import mujoco

        m = u.model
        joint = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, j) or f"joint{j}"
                 for j in range(m.njnt)]
        qpos_names, qvel_names = [""] * m.nq, [""] * m.nv
        for j, name in enumerate(joint):
            nq = {0: 7, 1: 4}.get(int(m.jnt_type[j]), 1)  # free, ball, else slide / hinge
            nv = {0: 6, 1: 3}.get(int(m.jnt_type[j]), 1)
            for k in range(nq):
                qpos_names[m.jnt_qposadr[j] + k] = f"qpos_{name}" + (f"_{k}" if nq > 1 else "")
            for k in range(nv):
                qvel_names[m.jnt_dofadr[j] + k] = f"qvel_{name}" + (f"_{k}" if nv > 1 else "")
        actuators = [f"action_{mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_ACTUATOR, a) or a}"
                     for a in range(m.nu)]
        ranges = {name: (float(m.jnt_range[j][0]), float(m.jnt_range[j][1]))
                  for j, name in enumerate(joint) if m.jnt_limited[j] and m.jnt_type[j] in (2, 3)}
        healthy, clip = None, None
        if sim.env_id == "Reacher-v5":
            obs_names = ([f"cos_{n[5:]}" for n in qpos_names[:2]]
                         + [f"sin_{n[5:]}" for n in qpos_names[:2]] + qpos_names[2:]
                         + qvel_names[:2]
                         + ["fingertip_minus_target_x", "fingertip_minus_target_y"])
        else:  # HalfCheetah, Hopper, Walker2d: qpos (less the root x when excluded), then qvel
            skip = 1 if u._exclude_current_positions_from_observation else 0
            obs_names = qpos_names[skip:] + qvel_names
            if sim.env_id in ("Hopper-v5", "Walker2d-v5"):
                clip = 10.0  # their _get_obs clips qvel to [-10, 10]
                healthy = {"z": [float(v) for v in u._healthy_z_range], "z_channel": qpos_names[1],
                           "angle": [float(v) for v in u._healthy_angle_range],
                           "angle_channel": qpos_names[2]}
                if sim.env_id == "Hopper-v5":  # every qpos[2:] and qvel value inside this range
                    healthy["state"] = [float(v) for v in u._healthy_state_range]
                    healthy["state_channels"] = qpos_names[2:] + qvel_names
        if len(obs_names) != sim.obs_dim:
            raise RuntimeError(f"{sim.env_id}: {len(obs_names)} channel names for "
                               f"{sim.obs_dim} observation values")
        names = {"observation": obs_names, "action": actuators,
                 "sim_state": qpos_names + qvel_names}
        return TaskFacts(sim.env_id, sim.env_kwargs, names, ranges, healthy, None, clip, sim.dt)
    finally:
        sim.close()


def _plain(value: Any) -> Any:
    """A JSON-able copy of a (possibly OmegaConf) nested spec."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or (hasattr(value, "__iter__")
                                            and not isinstance(value, (str, bytes))):
        return [_plain(v) for v in value]
    return value
