"""Held-out evaluation clips of gymnasium's MuJoCo robots, with per-pixel
instance ids.

HELD OUT: this scene family is for evaluation only and must never be used
for training. Nothing in it (articulated robots with the environments' own
materials, floors and skyboxes) is drawn by the training generators
(`slotrt.synth`, `slotrt.mujoco_scenes`), so it measures how far a model
trained on those scenes carries over to an unseen visual world.

A clip: one of the gymnasium MuJoCo environments below (round robin over
`ENVS` by clip index) is reset with the clip's seed, driven by seeded random
actions (`action_space.sample()`, one per frame interval held for its
env steps, ignoring `terminated`, so a robot that
falls over keeps lying there instead of being reset mid-clip), and every
frame is rendered twice with our own `mujoco.Renderer` from a free camera
that tracks the robot (its look-at point follows the centre of the robot's
geoms; azimuth, elevation and distance are drawn per clip so that the robot
fills a good part of the view): once in RGB and once with segmentation on.
The environments' models are used as they are, except that the shadow map
is narrowed (`vis.map.shadowclip`, against shadow artifacts at the horizon)
and made smaller (`vis.quality.shadowsize`, for speed).

Instances: one per *body* of the model that is drawn in the clip. Every
rendered geom maps to its body; bodies are numbered 1..n in body order
(model body id), counting only bodies that cover at least one pixel
somewhere in the clip, and the numbering is the same in every frame of the
clip. Geoms of the world body (id 0: floor, table, arena walls, rails), the
skybox and anything that is not a geom are background (0). A body with
several geoms (e.g. Pusher's shoulder link, Humanoid's torso + head) is one
instance; the pieces of a limb that MuJoCo models as separate bodies (e.g.
Ant's hip and leg segments) are separate instances. Sites are not drawn.

Environments (all ship with gymnasium and need only `mujoco` plus `imageio`,
gymnasium's `mujoco` extra, which gymnasium's MuJoCo module imports):
Pusher, Reacher, HalfCheetah, Ant, Hopper, Walker2d,
InvertedDoublePendulum, InvertedPendulum, Swimmer, Humanoid (all v5).

Every clip is a pure function of (index, width, height, frames): its seed is
`SEED_BASE + index`. Rendering needs OpenGL: `MUJOCO_GL=osmesa` (Debian
`libosmesa6`) without a GPU, `MUJOCO_GL=egl` with one; osmesa when unset.

    python -m slotrt.robot_scenes --out data/robots --clips 100 --frames 16

writes `clip_00000.npz` ... in the format of `slotrt.clips`.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from dataclasses import dataclass

import numpy as np

SEED_BASE = 0x60B0_0000_0000
# Seconds of simulated time between two frames (rounded to whole env steps).
FRAME_DT = 0.05


@dataclass(frozen=True)
class EnvView:
    """How to film one environment: azimuth centres (degrees, each +-
    `azimuth_spread`), elevation range (negative looks down) and the range
    of the factor on the distance at which the robot (as posed at frame 0)
    would just fill the view (or its workspace sphere, with `workspace`);
    seconds of simulation between frames."""

    name: str
    azimuths: tuple = (0.0,)
    azimuth_spread: float = 180.0
    elevation: tuple = (-45.0, -15.0)
    zoom: tuple = (0.7, 1.0)
    warmup_s: float = 0.5  # up to this much random-action time before frame 0
    frame_dt: float = FRAME_DT
    # > 0: a fixed-base arm whose links sweep a sphere of this radius (m)
    # about its root body; the camera then stays on the root and frames the
    # whole sphere instead of chasing the links.
    workspace: float = 0.0


# Planar robots (x-z plane) are filmed from the side; the rest from anywhere.
SIDE = (90.0, 270.0)
ENVS = (
    # Pusher's damped arm moves slowly: frames further apart.
    EnvView("Pusher-v5", elevation=(-60.0, -25.0), frame_dt=0.15),
    # Arm (0.21 m) and target (within 0.2 m) of the root.
    EnvView("Reacher-v5", elevation=(-88.0, -50.0), zoom=(0.75, 1.0), workspace=0.23),
    EnvView("HalfCheetah-v5", azimuths=SIDE, azimuth_spread=50.0, elevation=(-35.0, -5.0)),
    EnvView("Ant-v5", elevation=(-60.0, -20.0)),
    EnvView("Hopper-v5", azimuths=SIDE, azimuth_spread=50.0, elevation=(-30.0, -5.0)),
    EnvView("Walker2d-v5", azimuths=SIDE, azimuth_spread=50.0, elevation=(-30.0, -5.0)),
    EnvView("InvertedDoublePendulum-v5", azimuths=SIDE, azimuth_spread=45.0, elevation=(-25.0, 0.0)),
    EnvView("InvertedPendulum-v5", azimuths=SIDE, azimuth_spread=45.0, elevation=(-25.0, 0.0)),
    EnvView("Swimmer-v5", elevation=(-85.0, -40.0)),
    EnvView("Humanoid-v5", elevation=(-40.0, -5.0)),
)


def clip_seed(index: int) -> int:
    if not 0 <= index < 1 << 40:
        raise ValueError(f"clip index {index} out of range [0, 2^40)")
    return SEED_BASE + index


def _ensure_gl():
    os.environ.setdefault("MUJOCO_GL", "osmesa")
    if os.environ["MUJOCO_GL"] == "osmesa":
        os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")


_ENV_CACHE: dict = {}


def _env(name: str):
    """One environment per name and process: `reset(seed=...)` restores the
    whole simulation state, so reuse does not change any clip."""
    env = _ENV_CACHE.get(name)
    if env is None:
        _ensure_gl()
        try:
            import gymnasium
        except ImportError as e:  # pragma: no cover - message only
            raise ImportError("slotrt.robot_scenes needs gymnasium (pip install 'gymnasium[mujoco]')") from e
        import mujoco

        # MuJoCo's compiler warns about gymnasium's own XML (HalfCheetah's
        # deprecated 'settotalmass'), on stderr and into ./MUJOCO_LOG.TXT;
        # pass other warnings on as Python warnings.
        def warn(msg):
            if "settotalmass" not in msg:
                warnings.warn(f"MuJoCo ({name}): {msg}", RuntimeWarning, stacklevel=2)

        previous = mujoco.get_mju_user_warning()
        mujoco.set_mju_user_warning(warn)
        try:
            env = gymnasium.make(name, disable_env_checker=True)
        except ImportError as e:
            raise ImportError(
                f"cannot build {name}: {e}; gymnasium's MuJoCo environments need its 'mujoco' extra "
                "(pip install 'gymnasium[mujoco]', i.e. mujoco and imageio)"
            ) from e
        finally:
            mujoco.set_mju_user_warning(previous)
        model = env.unwrapped.model
        # Render-only: a shadow map spanning the models' whole extent (8 m
        # for the locomotion tasks) leaves dark shadow-map artifacts near
        # the horizon; one spanning +-2.5 m about the light does not.
        model.vis.map.shadowclip = min(float(model.vis.map.shadowclip), 2.5 / float(model.stat.extent))
        # 1024^2 texels over those 5 m are plenty at clip resolution and
        # render 2-3x faster than the models' 4096^2 in software GL.
        model.vis.quality.shadowsize = min(int(model.vis.quality.shadowsize), 1024)
        _ENV_CACHE[name] = env
    return env


def _robot_geoms(model, option) -> np.ndarray:
    """Geoms the renderer draws that belong to a body other than the world."""
    groups = np.asarray(option.geomgroup, bool)
    g = np.arange(model.ngeom)
    drawn = (model.geom_rgba[:, 3] > 0) & groups[np.clip(model.geom_group, 0, len(groups) - 1)]
    return g[drawn & (model.geom_bodyid > 0)]


def _centre(data, geoms, model) -> np.ndarray:
    """Centre of the bounding box of the robot's geoms' bounding spheres."""
    pos = data.geom_xpos[geoms]
    rb = model.geom_rbound[geoms][:, None]
    return ((pos - rb).min(0) + (pos + rb).max(0)) / 2


def _fill_distance(data, geoms, model, centre, azimuth, elevation, aspect) -> float:
    """The free camera's distance from `centre` at which the robot's geoms'
    bounding spheres just fit the view, seen from (azimuth, elevation)."""
    a, e = math.radians(azimuth), math.radians(elevation)
    forward = np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])
    up = np.array([-math.sin(e) * math.cos(a), -math.sin(e) * math.sin(a), math.cos(e)])
    right = np.cross(forward, up)
    rel = data.geom_xpos[geoms] - centre
    rb = model.geom_rbound[geoms]
    half_h = float(np.max(np.abs(rel @ up) + rb))
    half_w = float(np.max(np.abs(rel @ right) + rb))
    depth = float(np.max(-(rel @ forward) + rb))  # how far the robot reaches towards the camera
    tan = math.tan(math.radians(float(model.vis.global_.fovy)) / 2)
    return max(half_h / tan, half_w / (tan * aspect)) + depth


def generate(index: int, width: int = 64, height: int = 64, frames: int = 16):
    """Clip `index`: (frames uint8 [T, H, W, 3], ids uint8 [T, H, W], env name).

    Deterministic in (index, width, height, frames)."""
    if frames < 1 or width < 8 or height < 8:
        raise ValueError("need frames >= 1 and width, height >= 8")
    seed = clip_seed(index)
    view = ENVS[index % len(ENVS)]
    rng = np.random.default_rng(seed)
    env = _env(view.name)
    import mujoco

    env.reset(seed=seed)
    env.action_space.seed(seed)
    base = env.unwrapped
    model, data = base.model, base.data
    steps_per_frame = max(1, round(view.frame_dt / base.dt))

    def step(n):
        # The unwrapped env: no TimeLimit, no reset on termination. One
        # random action per frame interval, held for its env steps, so that
        # the robot moves visibly rather than jittering in place.
        for i in range(n):
            if i % steps_per_frame == 0:
                action = env.action_space.sample()
            base.step(action)

    step(steps_per_frame * int(rng.integers(0, max(1, round(view.warmup_s / view.frame_dt)) + 1)))
    # Positions of the current state (mj_step leaves those of the step before).
    mujoco.mj_forward(model, data)

    option = mujoco.MjvOption()
    option.sitegroup[:] = 0
    geoms = _robot_geoms(model, option)
    if geoms.size == 0:
        raise RuntimeError(f"{view.name}: no drawn geoms outside the world body")
    body_rank = np.zeros(model.nbody, np.int64)  # body id -> 1..n over bodies with drawn geoms
    bodies = np.unique(model.geom_bodyid[geoms])
    body_rank[bodies] = np.arange(1, bodies.size + 1)
    geom_body = np.zeros(model.ngeom + 1, np.int64)
    geom_body[geoms] = body_rank[model.geom_bodyid[geoms]]
    if bodies.size > 255:
        raise RuntimeError(f"{view.name}: {bodies.size} bodies do not fit uint8 ids")

    azimuth = float(view.azimuths[int(rng.integers(len(view.azimuths)))] + rng.uniform(-1, 1) * view.azimuth_spread)
    elevation = float(rng.uniform(*view.elevation))
    if view.workspace > 0:
        lookat = data.xpos[1].copy()
        tan = math.tan(math.radians(float(model.vis.global_.fovy)) / 2) * min(1.0, width / height)
        fill = view.workspace / math.sin(math.atan(tan))
    else:
        lookat = _centre(data, geoms, model)
        fill = _fill_distance(data, geoms, model, lookat, azimuth, elevation, width / height)
    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.azimuth = azimuth % 360.0
    cam.elevation = elevation
    cam.distance = float(fill * rng.uniform(*view.zoom))

    out_frames = np.empty((frames, height, width, 3), np.uint8)
    ranks = np.empty((frames, height, width), np.int64)
    t, tries = 0, 0
    with mujoco.Renderer(model, height, width) as renderer:
        while t < frames:
            tries += 1
            if tries > 4 * frames + 8:
                raise RuntimeError(f"{view.name} clip {index}: the robot left the view")
            # Follow the robot, smoothed so that flailing limbs do not shake the view.
            if view.workspace <= 0:
                lookat = 0.5 * lookat + 0.5 * _centre(data, geoms, model)
            cam.lookat[:] = lookat
            renderer.disable_segmentation_rendering()
            renderer.update_scene(data, camera=cam, scene_option=option)
            rgb = renderer.render()
            renderer.enable_segmentation_rendering()
            renderer.update_scene(data, camera=cam, scene_option=option)
            seg = renderer.render()
            obj, kind = seg[..., 0], seg[..., 1]
            is_geom = (kind == int(mujoco.mjtObj.mjOBJ_GEOM)) & (obj >= 0) & (obj < model.ngeom)
            r = np.where(is_geom, geom_body[np.where(is_geom, obj, model.ngeom)], 0)
            step(steps_per_frame)
            mujoco.mj_forward(model, data)
            if not r.any():
                continue  # nothing of the robot in view: skip the frame
            out_frames[t] = rgb
            ranks[t] = r
            t += 1
        renderer.disable_segmentation_rendering()
    # Compact over the bodies actually seen in the clip, in body order.
    seen = np.unique(ranks)
    seen = seen[seen > 0]
    remap = np.zeros(bodies.size + 1, np.uint8)
    remap[seen] = np.arange(1, seen.size + 1)
    return out_frames, remap[ranks], view.name


def _render_one(args):
    index, width, height, frames, out, png = args
    from .clips import save_clip

    f, ids, name = generate(index, width, height, frames)
    save_clip(os.path.join(out, f"clip_{index:05d}" + ("" if png else ".npz")), f, ids, png=png)
    return name, int(ids.max())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m slotrt.robot_scenes", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--clips", type=int, default=10)
    p.add_argument("--first", type=int, default=0, help="index of the first clip")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--png", action="store_true", help="PNG folders (frame_NNN.png, ids_NNN.png) instead of .npz")
    a = p.parse_args(argv)
    if a.frames < 1 or a.width < 8 or a.height < 8 or a.clips < 0 or a.first < 0:
        p.error("--frames >= 1, --width/--height >= 8, --clips >= 0, --first >= 0")
    os.makedirs(a.out, exist_ok=True)
    for done, index in enumerate(range(a.first, a.first + a.clips), 1):
        _render_one((index, a.width, a.height, a.frames, a.out, a.png))
        sys.stderr.write(f"\r{done}/{a.clips} clips")
        sys.stderr.flush()
    print(file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
