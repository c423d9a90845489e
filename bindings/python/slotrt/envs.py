"""A gymnasium environment of slotrt's own, built on its synthetic scenes:
nothing to download, and ground-truth object positions for probes.

ReachEnv: 2-5 coloured objects in a 64x64 RGB frame. Object 0 is the
agent's body (always red), steered by the action; object 1 is the target
(always green). The episode ends with reward +1 when the agent's centre
comes within (r_agent + r_target) of the target's; every other step pays
0.1 x (the distance closed, in units of the agent's speed); truncated after
`max_steps`. The other objects are distractors of other colours that keep
their own motion.
"""

from __future__ import annotations

from typing import Optional

import gymnasium
import numpy as np
from gymnasium import spaces

from .scene import Scene

# Stay, up, down, left, right.
_MOVES = np.array([[0, 0], [0, -1], [0, 1], [-1, 0], [1, 0]], np.float32)
AGENT_COLOUR = (240, 40, 40)
TARGET_COLOUR = (40, 220, 60)


class ReachEnv(gymnasium.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, size: int = 64, min_objects: int = 2, max_objects: int = 5, speed: float = 3.0,
                 max_steps: int = 50, render_mode: Optional[str] = None):
        if min_objects < 2:
            raise ValueError("ReachEnv needs at least 2 objects (the agent and the target)")
        self.size, self.speed, self.max_steps, self.max_objects = size, speed, max_steps, max_objects
        self.scene_options = dict(width=size, height=size, min_objects=min_objects, max_objects=max_objects)
        self.observation_space = spaces.Box(0, 255, (size, size, 3), np.uint8)
        self.action_space = spaces.Discrete(len(_MOVES))
        self.render_mode = render_mode
        self._scene: Optional[Scene] = None
        self._rgb = np.zeros((size, size, 3), np.uint8)
        self._ids = np.zeros((size, size), np.uint8)

    def _observe(self):
        self._scene.render(self._rgb, self._ids)
        # Padded to max_objects (NaN) so vector envs can stack infos.
        positions = np.full((self.max_objects, 2), np.nan, np.float32)
        positions[: self._scene.num_objects] = self._scene.positions() / self.size
        info = {
            "positions": positions,              # (x, y) in [0, 1], draw order
            "ids": self._ids.copy(),             # instance mask: i + 1 is object i
            "num_objects": self._scene.num_objects,
        }
        return self._rgb.copy(), info

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        if self._scene is not None:
            self._scene.close()
        self._scene = Scene(int(self.np_random.integers(0, 2**63)), **self.scene_options)
        self._scene.steer(0, 0.0, 0.0)
        self._scene.set_colour(0, AGENT_COLOUR)
        self._scene.set_colour(1, TARGET_COLOUR)
        self._steps = 0
        self._distance = self._gap()
        return self._observe()

    def _gap(self) -> float:
        p = self._scene.positions()
        return float(np.linalg.norm(p[0] - p[1]))

    def step(self, action):
        if self._scene is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r}")
        vx, vy = _MOVES[int(action)] * self.speed
        self._scene.steer(0, float(vx), float(vy))
        self._scene.advance()
        self._steps += 1
        obs, info = self._observe()
        radii = self._scene.radii()
        distance = self._gap()
        reached = distance < radii[0] + radii[1]
        reward = 1.0 if reached else 0.1 * (self._distance - distance) / self.speed
        self._distance = distance
        truncated = not reached and self._steps >= self.max_steps
        return obs, reward, bool(reached), bool(truncated), info

    def render(self):
        return self._rgb.copy() if self.render_mode == "rgb_array" else None

    def close(self):
        if self._scene is not None:
            self._scene.close()
            self._scene = None


gymnasium.register("slotrt/Reach-v0", entry_point=ReachEnv)
