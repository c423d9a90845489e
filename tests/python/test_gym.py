"""slotrt's own environment and the gymnasium wrappers around the runtime."""

from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import slotrt
from slotrt.envs import ReachEnv
from slotrt.gym import SlotObservation, SlotVectorObservation

MODEL = Path(__file__).resolve().parents[2] / "models" / "savi-small-64.safetensors"


@pytest.fixture(scope="module")
def model():
    with slotrt.Model.load(MODEL) as m:
        yield m


def test_reach_env_passes_the_checker_and_is_deterministic():
    env = ReachEnv()
    check_env(env, skip_render_check=True)
    a, info_a = env.reset(seed=5)
    b, info_b = ReachEnv().reset(seed=5)
    assert np.array_equal(a, b) and np.array_equal(info_a["positions"], info_b["positions"])
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert set(np.unique(info_a["ids"])) <= set(range(info_a["num_objects"] + 1))


def test_the_action_moves_the_agent():
    env = ReachEnv()
    _, info = env.reset(seed=1)
    start = info["positions"][0].copy()
    for _ in range(3):
        _, _, terminated, _, info = env.step(4)  # right
        if terminated:
            break
    assert info["positions"][0][0] > start[0]
    env2 = gymnasium.make("slotrt/Reach-v0")
    assert env2.reset(seed=0)[0].shape == (64, 64, 3)


def test_slot_observation_wrapper(model):
    env = SlotObservation(ReachEnv(max_steps=5), model, keep_pixels=True, keep_masks=True)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    # The shipped bundle refines its masks at the input size.
    assert obs["slots"].shape == (6, 64) and obs["masks"].shape == (6, 64, 64)
    coarse = SlotObservation(ReachEnv(max_steps=5), model, keep_masks=True, refine="off")
    assert coarse.observation_space["masks"].shape == (6, 32, 32)
    assert coarse.reset(seed=3)[0]["masks"].shape == (6, 32, 32)
    coarse.close()
    episodes = env.stream.stats["episodes"]
    env.reset()
    env.step(0)
    assert env.stream.stats["episodes"] == episodes + 1, "reset starts a new slot episode"
    # A seeded reset reproduces the slots as well as the pixels.
    a, _ = env.reset(seed=9)
    b, _ = env.reset(seed=9)
    assert np.array_equal(a["slots"], b["slots"])
    env.close()
    with pytest.raises(slotrt.ClosedError):
        env.observation(obs["pixels"])


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_vector_wrapper_resets_exactly_the_ended_envs(model, mode):
    envs = SyncVectorEnv([lambda: ReachEnv(max_steps=3 + i) for i in range(3)], autoreset_mode=mode)
    wrapped = SlotVectorObservation(envs, model)
    obs, _ = wrapped.reset(seed=0)
    assert obs["slots"].shape == (3, 6, 64)
    assert wrapped.observation_space.contains(obs)
    assert wrapped._out.starts_episode.all()
    ended_before = np.zeros(3, bool)
    for _ in range(9):
        obs, _, terminated, truncated, _ = wrapped.step(np.zeros(3, np.int64))
        ended = terminated | truncated
        expect = ended_before if mode == AutoresetMode.NEXT_STEP else ended
        assert list(wrapped._out.starts_episode) == list(expect)
        ended_before = ended
    assert wrapped.session.stats["frames_out"] == 30
    wrapped.close()


def test_slot_observation_fine_tunes_while_the_agent_acts():
    import time

    import slotrt
    from slotrt.envs import ReachEnv
    from slotrt.gym import SlotObservation

    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    with slotrt.Model.load(root / "models" / "savi-small-64.safetensors") as model:
        env = SlotObservation(ReachEnv(), model, finetune=dict(batch_clips=2, clip_frames=2, publish_every=1),
                              instance_ids=lambda env, info: info["ids"], warmup=False)
        obs, _ = env.reset(seed=0)
        session = env.session
        started = time.time()
        while env.tuner.stats.steps < 2 and time.time() - started < 120:
            obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                obs, _ = env.reset(seed=1)
        stats = env.tuner.stats
        assert stats.steps >= 2 and stats.terms[3] > 0 and stats.terms[0] == 0, stats
        assert obs["slots"].shape == (6, 64) and env.session is session, "seeded resets keep the trained session"
        env.close()
        assert not env.tuner.final.running
