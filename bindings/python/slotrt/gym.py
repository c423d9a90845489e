"""gymnasium wrappers that turn image observations into slots.

SlotObservation(env, model): one stream per environment; the observation
becomes {"slots": [K, D], "active": [K]} (+ "masks" [K, h, w], + "pixels"),
and the stream starts a new episode (fresh slots) at every env.reset().

SlotVectorObservation(vector_env, model): one Session.step call per vector
step for all N environments, with the per-index resets gymnasium's
autoreset implies (NEXT_STEP: the observation after an episode ended is a
reset observation; SAME_STEP: the observation of the ending step is).
"""

from __future__ import annotations

from typing import Optional

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

from .runtime import Model, Session


def _slot_spaces(model: Model, mask_size: tuple, keep_masks: bool) -> dict:
    k, d = model.info.num_slots, model.info.slot_dim
    out = {
        "slots": spaces.Box(-np.inf, np.inf, (k, d), np.float32),
        "active": spaces.MultiBinary(k),
    }
    if keep_masks:
        out["masks"] = spaces.Box(0.0, 1.0, (k, *mask_size), np.float32)
    return out


class SlotObservation(gymnasium.ObservationWrapper):
    """Image observations -> slot observations, carried across an episode."""

    def __init__(self, env: gymnasium.Env, model: Model, keep_pixels: bool = False, keep_masks: bool = False,
                 **session_options):
        super().__init__(env)
        self.model, self.session_options = model, session_options
        self.session = Session(model, **session_options)
        self.stream = self.session.open_stream()
        self.keep_pixels, self.keep_masks = keep_pixels, keep_masks
        fields = _slot_spaces(model, self.session.mask_size, keep_masks)
        if keep_pixels:
            fields["pixels"] = env.observation_space
        self.observation_space = spaces.Dict(fields)

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        if seed is not None:
            # A seeded reset reproduces the slots too: a deterministic
            # session whose slot noise comes from the same seed.
            self.stream.close()
            self.session.close()
            opts = {**self.session_options, "deterministic": True, "seed": seed, "warmup": False}
            self.session = Session(self.model, **opts)
            self.stream = self.session.open_stream()
        else:
            self.stream.reset()
        return super().reset(seed=seed, options=options)

    def observation(self, observation: np.ndarray) -> dict:
        r = self.stream.process(observation)
        out = {"slots": r.slots, "active": r.active.astype(np.int8)}
        if self.keep_masks:
            out["masks"] = r.masks
        if self.keep_pixels:
            out["pixels"] = observation
        return out

    def close(self):
        self.stream.close()
        self.session.close()
        super().close()


class SlotVectorObservation(VectorWrapper):
    """Batched image observations -> batched slots, one slotrt call per step."""

    def __init__(self, env: VectorEnv, model: Model, keep_pixels: bool = False, keep_masks: bool = False,
                 **session_options):
        super().__init__(env)
        self.session = Session(model, **session_options)
        self.keep_pixels, self.keep_masks = keep_pixels, keep_masks
        self.autoreset_mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        fields = _slot_spaces(model, self.session.mask_size, keep_masks)
        if keep_pixels:
            fields["pixels"] = env.single_observation_space
        self.single_observation_space = spaces.Dict(fields)
        self.observation_space = gymnasium.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self._resets = np.ones(self.num_envs, np.bool_)
        self._out = None

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._resets[:] = True
        return self.observations(obs), info

    def step(self, actions):
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        ended = np.logical_or(terminated, truncated)
        if self.autoreset_mode == AutoresetMode.SAME_STEP:
            self._resets[:] = ended  # this step's observation is already a reset one
        out = self.observations(obs)
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            self._resets[:] = ended  # the next observation will be
        else:
            self._resets[:] = False
        return out, rewards, terminated, truncated, info

    def observations(self, observations: np.ndarray) -> dict:
        self._out = self.session.step(observations, self._resets, out=self._out)
        self._resets[:] = False
        out = {"slots": self._out.slots.copy(), "active": self._out.active.astype(np.int8)}
        if self.keep_masks:
            out["masks"] = self._out.masks.copy()
        if self.keep_pixels:
            out["pixels"] = observations
        return out

    def close(self, **kwargs):
        self.session.close()
        return super().close(**kwargs)
