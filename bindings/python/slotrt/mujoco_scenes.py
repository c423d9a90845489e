"""MOVi-like multi-object scenes simulated and rendered by MuJoCo.

The project's second world: 1-10 rigid bodies (spheres, boxes, cylinders,
capsules, ellipsoids and a few convex meshes) of random sizes, colours
(sometimes all of near-identical hue), materials and textures are dropped or
thrown onto a textured floor, collide, roll and occlude each other. Lighting,
camera pose and field of view are drawn per clip; the camera is either static
or slowly orbiting. Per-pixel instance ids come from MuJoCo's segmentation
render: one id per body, 1..n in body order and stable over the clip; the
floor and sky are background (0).

Every clip is a pure function of (split, index, size, frames): its RNG seed is
`SPLIT_BASE[split] + index`, with disjoint ranges per split like the 2D
generator (src/data/split.rs). Rendering needs an OpenGL backend: set
`MUJOCO_GL=osmesa` (Debian `libosmesa6`) on a machine without a GPU, or
`MUJOCO_GL=egl` where there is one; `render_clip` picks osmesa when unset.

    python -m slotrt.mujoco_scenes --out data/mujoco/train --split train --clips 100

writes `clip_00000.npz` ... (see `slotrt.clips` for the format: `frames`
[T, H, W, 3] uint8 and `ids` [T, H, W] uint8), or PNG folders with `--png`.
"""

from __future__ import annotations

import argparse
import colorsys
import math
import os
import sys
from dataclasses import dataclass

import numpy as np

CLIPS_PER_SPLIT = 1 << 40
SPLIT_BASE = {"train": 0, "val": CLIPS_PER_SPLIT, "validation": CLIPS_PER_SPLIT, "test": 2 * CLIPS_PER_SPLIT}
# Distinct from the 2D generator's seeds by a fixed offset, so that a
# MuJoCo clip and a 2D clip with the same index do not share random draws.
WORLD_OFFSET = 7 << 44

SHAPES = ("sphere", "box", "cylinder", "capsule", "ellipsoid", "mesh")
# Convex meshes (MuJoCo takes the hull): vertices of a unit-sized solid.
MESHES = {
    "tetra": [(1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)],
    "octa": [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)],
    "prism": [(math.cos(a), math.sin(a), z) for a in np.linspace(0, 2 * math.pi, 6, endpoint=False) for z in (-0.6, 0.6)],
    "wedge": [(-1, -1, -0.6), (1, -1, -0.6), (-1, 1, -0.6), (1, 1, -0.6), (-1, -1, 0.6), (-1, 1, 0.6)],
}


@dataclass
class SceneConfig:
    """What a clip may contain. The defaults are the training family."""

    width: int = 64
    height: int = 64
    frames: int = 24
    min_objects: int = 1
    max_objects: int = 10
    frame_dt: float = 0.05  # seconds of simulation between frames
    moving_camera_prob: float = 0.5
    similar_hue_prob: float = 0.25
    textured_object_prob: float = 0.3


def clip_seed(split: str, index: int) -> int:
    if split not in SPLIT_BASE:
        raise ValueError(f"unknown split {split!r} (train, val, test)")
    if not 0 <= index < CLIPS_PER_SPLIT:
        raise ValueError(f"clip index {index} out of range [0, 2^40)")
    return WORLD_OFFSET + SPLIT_BASE[split] + index


def _rgb(h: float, s: float, v: float) -> str:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0), 1), min(max(v, 0), 1))
    return f"{r:.3f} {g:.3f} {b:.3f}"


def _hue_sampler(rng: np.random.Generator, cfg: SceneConfig):
    if rng.random() < cfg.similar_hue_prob:
        centre, spread = rng.random(), rng.uniform(0.01, 0.05)
        return lambda: centre + rng.uniform(-spread, spread)
    return lambda: rng.random()


def scene_xml(rng: np.random.Generator, cfg: SceneConfig) -> tuple[str, dict]:
    """The MJCF of one clip and the camera/motion parameters drawn with it."""
    n = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    hue = _hue_sampler(rng, cfg)
    floor_h = rng.random()
    floor_kind = rng.choice(["checker", "gradient", "flat", "noise"])
    floor_tex = (
        f'<texture name="floor" type="2d" builtin="{floor_kind if floor_kind != "noise" else "flat"}" '
        f'rgb1="{_rgb(floor_h, rng.uniform(0, 0.6), rng.uniform(0.2, 0.9))}" '
        f'rgb2="{_rgb(floor_h + rng.uniform(-0.2, 0.2), rng.uniform(0, 0.6), rng.uniform(0.1, 0.8))}" '
        f'width="256" height="256"'
        + (f' mark="random" random="{rng.uniform(0.05, 0.3):.2f}" markrgb="{_rgb(rng.random(), 0.3, 0.8)}"' if floor_kind == "noise" else "")
        + "/>"
    )
    sky = _rgb(rng.random(), rng.uniform(0, 0.4), rng.uniform(0.3, 1.0))
    assets = [
        floor_tex,
        f'<material name="floor" texture="floor" texrepeat="{rng.uniform(1, 8):.2f} {rng.uniform(1, 8):.2f}" '
        f'reflectance="{rng.uniform(0, 0.3):.2f}"/>',
    ]
    for name, verts in MESHES.items():
        flat = " ".join(f"{x:.4f} {y:.4f} {z:.4f}" for x, y, z in verts)
        assets.append(f'<mesh name="{name}" vertex="{flat}"/>')
    bodies = []
    placed: list[tuple[float, float, float]] = []
    for i in range(n):
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        scale = rng.uniform(0.15, 0.42)
        h, s, v = hue(), rng.uniform(0.35, 1.0), rng.uniform(0.35, 1.0)
        material = f"m{i}"
        spec, shine, refl = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0, 0.2)
        if rng.random() < cfg.textured_object_prob:
            assets.append(
                f'<texture name="t{i}" type="cube" builtin="{rng.choice(["checker", "gradient"])}" '
                f'rgb1="{_rgb(h, s, v)}" rgb2="{_rgb(h + rng.uniform(-0.04, 0.04), s * rng.uniform(0.5, 1), v * rng.uniform(0.5, 1))}" '
                f'width="32" height="32"/>'
            )
            assets.append(f'<material name="{material}" texture="t{i}" specular="{spec:.2f}" shininess="{shine:.2f}" reflectance="{refl:.2f}"/>')
        else:
            assets.append(f'<material name="{material}" rgba="{_rgb(h, s, v)} 1" specular="{spec:.2f}" shininess="{shine:.2f}" reflectance="{refl:.2f}"/>')
        if shape == "sphere":
            geom = f'type="sphere" size="{scale:.3f}"'
        elif shape == "box":
            sx, sy, sz = scale * rng.uniform(0.5, 1.2, 3)
            geom = f'type="box" size="{sx:.3f} {sy:.3f} {sz:.3f}"'
        elif shape == "cylinder":
            geom = f'type="cylinder" size="{scale * rng.uniform(0.5, 1):.3f} {scale * rng.uniform(0.4, 1):.3f}"'
        elif shape == "capsule":
            geom = f'type="capsule" size="{scale * rng.uniform(0.4, 0.7):.3f} {scale * rng.uniform(0.4, 1):.3f}"'
        elif shape == "ellipsoid":
            a, b, c = scale * rng.uniform(0.5, 1.2, 3)
            geom = f'type="ellipsoid" size="{a:.3f} {b:.3f} {c:.3f}"'
        else:
            mesh = list(MESHES)[int(rng.integers(len(MESHES)))]
            geom = f'type="mesh" mesh="{mesh}"'
            # Meshes cannot be scaled per geom; scale the body's mesh copy.
            assets.append(f'<mesh name="{mesh}{i}" scale="{scale:.3f} {scale:.3f} {scale:.3f}" vertex="' + " ".join(f"{x:.4f} {y:.4f} {z:.4f}" for x, y, z in MESHES[mesh]) + '"/>')
            geom = f'type="mesh" mesh="{mesh}{i}"'
        # Drop or throw: start above the floor inside the camera's view,
        # away from earlier bodies so nothing starts interpenetrating.
        for _ in range(50):
            x, y = rng.uniform(-1.0, 1.0, 2)
            if all((x - px) ** 2 + (y - py) ** 2 > (0.45 + ps) ** 2 for px, py, ps in placed):
                break
        z = rng.uniform(0.3, 1.5) + 0.5 * scale
        placed.append((x, y, scale))
        quat = rng.normal(size=4)
        quat /= np.linalg.norm(quat)
        bodies.append(
            f'<body name="obj{i}" pos="{x:.3f} {y:.3f} {z:.3f}" quat="{quat[0]:.3f} {quat[1]:.3f} {quat[2]:.3f} {quat[3]:.3f}">'
            f'<freejoint/><geom {geom} material="{material}" density="{rng.uniform(300, 2000):.0f}" '
            f'friction="{rng.uniform(0.3, 1.0):.2f} 0.005 0.0001"/></body>'
        )
    light_dir = rng.normal(size=3)
    light_dir[2] = -abs(light_dir[2]) - 0.5
    light_dir /= np.linalg.norm(light_dir)
    diffuse = rng.uniform(0.5, 1.0)
    ambient = rng.uniform(0.15, 0.45)
    fovy = rng.uniform(30, 60)
    # Invisible walls (geom group 3 is not drawn, nor segmented) keep thrown
    # bodies inside the area the camera frames.
    walls = "".join(
        f'<geom type="box" group="3" rgba="0 0 0 0" size="{sx} {sy} 1" pos="{px} {py} 1"/>'
        for sx, sy, px, py in [(0.05, 1.8, 1.8, 0), (0.05, 1.8, -1.8, 0), (1.8, 0.05, 0, 1.8), (1.8, 0.05, 0, -1.8)]
    )
    xml = f"""
<mujoco>
  <option timestep="0.005"/>
  <visual>
    <global fovy="{fovy:.1f}" offwidth="{cfg.width}" offheight="{cfg.height}"/>
    <headlight ambient="{ambient:.2f} {ambient:.2f} {ambient:.2f}" diffuse="0.1 0.1 0.1" specular="0 0 0"/>
    <rgba haze="{sky} 1"/>
    <quality shadowsize="1024"/>
  </visual>
  <asset>{"".join(assets)}</asset>
  <worldbody>
    <light directional="true" dir="{light_dir[0]:.3f} {light_dir[1]:.3f} {light_dir[2]:.3f}" pos="0 0 5" diffuse="{diffuse:.2f} {diffuse:.2f} {diffuse:.2f}" specular="0.3 0.3 0.3" castshadow="true"/>
    <geom name="floor" type="plane" size="20 20 0.1" material="floor"/>
    {walls}
    {"".join(bodies)}
  </worldbody>
</mujoco>"""
    camera = {
        "azimuth": rng.uniform(0, 360),
        "elevation": -rng.uniform(25, 65),
        # Far enough that the walled area (half-width 1.8) stays mostly in view.
        "distance": rng.uniform(0.75, 1.0) * 1.4 / math.tan(math.radians(fovy) / 2),
        "lookat": (rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), rng.uniform(0.0, 0.3)),
        "orbit_deg_per_frame": rng.uniform(0.5, 2.0) * rng.choice([-1, 1]) if rng.random() < cfg.moving_camera_prob else 0.0,
        "sky": sky,
    }
    throw = rng.random() < 0.5
    # Thrown bodies aim roughly at the centre so that they meet.
    speeds = [
        (-np.array(p[:2]) * rng.uniform(0.3, 1.5) + rng.normal(0, 0.4, 2)) if throw else np.zeros(2) for p in placed
    ]
    spins = [rng.normal(0, 3.0 if throw else 0.5, 3) for _ in range(n)]
    return xml, {"camera": camera, "n": n, "speeds": speeds, "spins": spins}


@dataclass
class Clip:
    frames: np.ndarray  # [T, H, W, 3] uint8
    ids: np.ndarray  # [T, H, W] uint8, 0 = background, 1..n = body
    seed: int
    num_objects: int


def _ensure_gl():
    os.environ.setdefault("MUJOCO_GL", "osmesa")
    if os.environ["MUJOCO_GL"] == "osmesa":
        os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")


def render_clip(split: str, index: int, cfg: SceneConfig | None = None) -> Clip:
    """Simulates and renders clip `index` of `split` (deterministic)."""
    cfg = cfg or SceneConfig()
    seed = clip_seed(split, index)
    return render_seed(seed, cfg)


def render_seed(seed: int, cfg: SceneConfig) -> Clip:
    _ensure_gl()
    import mujoco

    rng = np.random.default_rng(seed)
    xml, extra = scene_xml(rng, cfg)
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    for i in range(extra["n"]):
        adr = model.jnt_dofadr[model.body_jntadr[model.body(f"obj{i}").id]]
        data.qvel[adr : adr + 2] = extra["speeds"][i]
        data.qvel[adr + 3 : adr + 6] = extra["spins"][i]
    # Instance id per geom: its body's object number + 1; the floor is 0.
    geom_instance = np.zeros(model.ngeom + 1, dtype=np.uint8)
    for g in range(model.ngeom):
        body = model.geom_bodyid[g]
        name = model.body(body).name
        if name.startswith("obj"):
            geom_instance[g] = int(name[3:]) + 1
    cam = mujoco.MjvCamera()
    c = extra["camera"]
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.lookat[:] = c["lookat"]
    cam.distance = c["distance"]
    cam.elevation = c["elevation"]
    steps_per_frame = max(1, round(cfg.frame_dt / model.opt.timestep))
    frames = np.empty((cfg.frames, cfg.height, cfg.width, 3), np.uint8)
    ids = np.empty((cfg.frames, cfg.height, cfg.width), np.uint8)
    # Let dropped bodies fall a little before the first frame.
    mujoco.mj_step(model, data, nstep=int(rng.integers(1, 20)))
    mujoco.mj_forward(model, data)  # positions for the first frame's render
    with mujoco.Renderer(model, cfg.height, cfg.width) as renderer:
        for t in range(cfg.frames):
            cam.azimuth = c["azimuth"] + t * c["orbit_deg_per_frame"]
            renderer.update_scene(data, camera=cam)
            frames[t] = renderer.render()
            renderer.enable_segmentation_rendering()
            renderer.update_scene(data, camera=cam)
            seg = renderer.render()
            renderer.disable_segmentation_rendering()
            geom = seg[..., 0]
            is_geom = (seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM)) & (geom >= 0)
            ids[t] = np.where(is_geom, geom_instance[np.clip(geom, 0, model.ngeom)], 0)
            mujoco.mj_step(model, data, nstep=steps_per_frame)
    return Clip(frames=frames, ids=ids, seed=seed, num_objects=extra["n"])


def _render_one(args):
    split, index, cfg, out, png = args
    from .clips import save_clip

    clip = render_clip(split, index, cfg)
    save_clip(os.path.join(out, f"clip_{index:05d}" + ("" if png else ".npz")), clip.frames, clip.ids, png=png)
    return clip.num_objects


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m slotrt.mujoco_scenes", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--split", default="train", choices=["train", "val", "test"])
    p.add_argument("--clips", type=int, default=10)
    p.add_argument("--first", type=int, default=0, help="index of the first clip")
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--min-objects", type=int, default=1)
    p.add_argument("--max-objects", type=int, default=10)
    p.add_argument("--static-camera", action="store_true", help="never orbit the camera")
    p.add_argument("--png", action="store_true", help="PNG folders (frame_NNN.png, ids_NNN.png) instead of .npz")
    p.add_argument("--workers", type=int, default=1, help="rendering processes")
    a = p.parse_args(argv)
    if not (1 <= a.min_objects <= a.max_objects <= 254):
        p.error("need 1 <= --min-objects <= --max-objects <= 254")
    if a.frames < 1 or a.width < 8 or a.height < 8 or a.clips < 0:
        p.error("--frames >= 1, --width/--height >= 8, --clips >= 0")
    cfg = SceneConfig(
        width=a.width, height=a.height, frames=a.frames, min_objects=a.min_objects, max_objects=a.max_objects,
        moving_camera_prob=0.0 if a.static_camera else SceneConfig.moving_camera_prob,
    )
    from .clips import progress

    os.makedirs(a.out, exist_ok=True)
    jobs = [(a.split, a.first + i, cfg, a.out, a.png) for i in range(a.clips)]
    done = 0
    if a.workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(a.workers) as pool:
            for _ in pool.imap_unordered(_render_one, jobs):
                done += 1
                progress(done, a.clips)
    else:
        for job in jobs:
            _render_one(job)
            done += 1
            progress(done, a.clips)
    return 0


if __name__ == "__main__":
    sys.exit(main())
