"""gymnasium wrappers that turn image observations into slots.

SlotObservation(env, model): one stream per environment; the observation
becomes {"slots": [K, D], "active": [K]} (+ "masks" [K, h, w], + "pixels"),
and the stream starts a new episode (fresh slots) at every env.reset().

SlotObservation(env, model, finetune={...}, instance_ids=callable) also
fine-tunes the model online while the agent acts: each frame goes to the
session with its instance ids (a simulator's segmentation render, from
`instance_ids(env, info)`) and the session's trainer adapts the slots to
the scenes the agent sees (slotrt.finetune; `wrapper.tuner` has its stats).

SlotVectorObservation(vector_env, model): one Session.step call per vector
step for all N environments, with the per-index resets gymnasium's
autoreset implies (NEXT_STEP: the observation after an episode ended is a
reset observation; SAME_STEP: the observation of the ending step is).
"""

from __future__ import annotations

from typing import Callable, Optional

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
                 finetune: Optional[dict] = None, instance_ids: Optional[Callable] = None, **session_options):
        """`finetune`: slotrt_finetune_options fields (slotrt.finetune) to
        adapt the model while the agent acts; with `instance_ids(env, info)
        -> [H, W] ids` the guided term is on by default (guided=1,
        reconstruction=0, the setting measured best on simulator video)."""
        super().__init__(env)
        self.model, self.session_options = model, session_options
        self.session = Session(model, **session_options)
        self.stream = self.session.open_stream()
        self.instance_ids, self.tuner = instance_ids, None
        if finetune is not None:
            defaults = {"guided": 1.0, "reconstruction": 0.0} if instance_ids else {}
            self.tuner = self.session.start_finetune(**{**defaults, **finetune})
        self.keep_pixels, self.keep_masks = keep_pixels, keep_masks
        fields = _slot_spaces(model, self.session.mask_size, keep_masks)
        if keep_pixels:
            fields["pixels"] = env.observation_space
        self.observation_space = spaces.Dict(fields)

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        # While fine-tuning, the session (and the weights it trained) stays.
        if seed is not None and self.tuner is None:
            # A seeded reset reproduces the slots too: a deterministic
            # session whose slot noise comes from the same seed.
            self.stream.close()
            self.session.close()
            opts = {**self.session_options, "deterministic": True, "seed": seed, "warmup": False}
            self.session = Session(self.model, **opts)
            self.stream = self.session.open_stream()
        else:
            self.stream.reset()
        obs, info = self.env.reset(seed=seed, options=options)
        return self._slots(obs, info), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._slots(obs, info), reward, terminated, truncated, info

    def _slots(self, observation: np.ndarray, info: dict) -> dict:
        if self.instance_ids is None:
            return self.observation(observation)
        # Queued with its ids (what guided fine-tuning learns from) and
        # waited for: the same result process() gives.
        self.stream.push(observation, ids=self.instance_ids(self.env, info))
        return self._pack(self.stream.poll(), observation)

    def observation(self, observation: np.ndarray) -> dict:
        return self._pack(self.stream.process(observation), observation)

    def _pack(self, r, observation: np.ndarray) -> dict:
        out = {"slots": r.slots, "active": r.active.astype(np.int8)}
        if self.keep_masks:
            out["masks"] = r.masks
        if self.keep_pixels:
            out["pixels"] = observation
        return out

    def close(self):
        if self.tuner is not None:
            self.tuner.stop()
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
