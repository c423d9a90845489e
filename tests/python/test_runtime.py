"""The runtime from Python: models, sessions, streams, batched steps, numpy
frames in any layout the C API can describe, errors as exceptions."""

import gc
from pathlib import Path

import numpy as np
import pytest

import slotrt

MODEL = Path(__file__).resolve().parents[2] / "models" / "savi-small-64.safetensors"


@pytest.fixture(scope="module")
def model():
    with slotrt.Model.load(MODEL) as m:
        yield m


@pytest.fixture(scope="module")
def clip():
    return slotrt.generate_clip("test", 3, frames=6)


def test_model_info(model):
    info = model.info
    assert info.input_size == (64, 64) and info.num_slots == 6 and info.slot_dim == 64
    assert info.init == "gaussian" and info.has_predictor and info.device == "cpu"
    assert info.precision == "fp32"
    assert info.masks in ("decoder", "attention")
    assert "SAVi" in info.description


def test_sessions_serve_the_models_own_masks_by_default(model, clip):
    info = model.info
    own = info.attention_size if info.masks == "attention" else info.mask_size
    for masks, size in (("model", own), ("decoder", info.mask_size), ("attention", info.attention_size)):
        with slotrt.Session(model, deterministic=True, masks=masks, refine="off") as session:
            assert session.mask_size == size
            assert session.open_stream().process(clip.rgb[0]).masks.shape == (6, *size), masks
        with slotrt.Session(model, deterministic=True, masks=masks, refine="guided") as session:
            assert session.mask_size == info.input_size
            assert session.open_stream().process(clip.rgb[0]).masks.shape == (6, *info.input_size), masks
    with pytest.raises(slotrt.InvalidArgumentError):
        slotrt.Session(model, refine="crf")


def test_refined_masks_match_the_pytorch_guided_filter(model, clip):
    """The shipped bundle refines its masks; the session's refined masks
    equal the reference filter applied to its unrefined masks."""
    torch = pytest.importorskip("torch")
    from slotrt.torch_ref import guided_filter
    with slotrt.Session(model, deterministic=True, seed=3) as session:
        assert session.mask_size == model.info.input_size
        refined = [session.open_stream().process(f).masks for f in clip.rgb[:1]][0]
    with slotrt.Session(model, deterministic=True, seed=3, refine="off") as session:
        raw = session.open_stream().process(clip.rgb[0]).masks
    guide = torch.from_numpy(clip.rgb[0]).permute(2, 0, 1)[None].double() / 255
    expected = guided_filter(guide, torch.from_numpy(raw)[None].double(), radius=4, eps=1e-3)[0].numpy()
    np.testing.assert_allclose(refined, expected, atol=1e-4)
    np.testing.assert_allclose(refined.sum(0), 1.0, atol=1e-5)
    # The filter moves edges, not objects: the same slot wins almost everywhere.
    upsampled = torch.nn.functional.interpolate(torch.from_numpy(raw)[None], size=(64, 64), mode="bilinear")
    agree = (upsampled[0].argmax(0).numpy() == refined.argmax(0)).mean()
    assert 0.8 < agree < 1.0


def test_process_gives_slots_masks_and_stable_ids(model, clip):
    with slotrt.Session(model, deterministic=True, seed=1, label_maps=True) as session:
        with session.open_stream() as stream:
            results = [stream.process(frame, tag=t) for t, frame in enumerate(clip.rgb)]
    first = results[0]
    assert first.slots.shape == (6, 64) and first.slots.dtype == np.float32
    assert first.masks.shape == (6, *session.mask_size)
    np.testing.assert_allclose(first.masks.sum(0), 1.0, atol=1e-5)
    assert first.labels.shape == (64, 64) and first.labels.max() < 6
    assert first.starts_episode and not results[1].starts_episode
    assert all((r.ids == first.ids).all() for r in results)
    assert [r.tag for r in results] == list(range(6))
    assert first.active.dtype == np.bool_ and first.active.all()


def test_push_poll_equals_process_bit_for_bit(model, clip):
    def run(drive):
        with slotrt.Session(model, deterministic=True, seed=9) as session:
            with session.open_stream() as stream:
                return [drive(stream, f) for f in clip.rgb]

    def push_poll(stream, frame):
        stream.push(frame)
        return stream.poll(timeout=60)

    a = run(lambda s, f: s.process(f))
    b = run(push_poll)
    for x, y in zip(a, b):
        assert np.array_equal(x.slots, y.slots) and np.array_equal(x.masks, y.masks)


def test_poll_times_out_with_none(model):
    with slotrt.Session(model, warmup=False) as session, session.open_stream() as stream:
        assert stream.poll(timeout=0) is None


def test_step_with_autoreset(model, clip):
    frames = np.stack([clip.rgb[0]] * 3)
    with slotrt.Session(model, label_maps=True) as session:
        first = session.step(frames, [True, True, True])
        assert first.slots.shape == (3, 6, 64) and first.masks.shape == (3, 6, *session.mask_size)
        assert first.labels.shape == (3, 64, 64) and first.starts_episode.all()
        # The same frame on every lane, each lane its own noise: different slots.
        assert not np.array_equal(first.slots[0], first.slots[1])
        again = session.step(frames, [False, True, False], out=first)
        assert again is first
        assert list(again.starts_episode) == [False, True, False]
        assert list(again.episode) == [0, 1, 0]
        with pytest.raises(slotrt.InvalidArgumentError):
            session.step(frames, [True, False])


def test_strided_crops_work_and_bad_layouts_raise(model, clip):
    big = np.zeros((100, 120, 3), np.uint8)
    big[20:84, 30:94] = clip.rgb[0]
    crop = big[20:84, 30:94]  # strided rows, packed pixels
    assert not crop.flags.c_contiguous
    with slotrt.Session(model, deterministic=True) as session:
        a = session.open_stream().process(crop)
    with slotrt.Session(model, deterministic=True) as session:
        b = session.open_stream().process(np.ascontiguousarray(crop))
    assert np.array_equal(a.slots, b.slots)
    bgr = np.ascontiguousarray(clip.rgb[0][..., ::-1])
    chw = np.ascontiguousarray(clip.rgb[0].transpose(2, 0, 1).astype(np.float32) / 255)
    with slotrt.Session(model, deterministic=True) as session:
        c = session.open_stream().process(bgr, fmt="bgr")
    with slotrt.Session(model, deterministic=True) as session:
        d = session.open_stream().process(chw)
    np.testing.assert_allclose(c.slots, a.slots, atol=1e-5)
    np.testing.assert_allclose(d.slots, a.slots, atol=1e-4)

    with slotrt.Session(model, warmup=False) as session, session.open_stream() as stream:
        for bad in [
            clip.rgb[0].astype(np.int16),               # dtype
            clip.rgb[0][:, :, :2],                      # channels
            clip.rgb[0][:, ::2],                        # pixels not packed
            clip.rgb[0][::-1],                          # rows backwards
            np.zeros((4, 64, 64), np.float32),          # planes
            [[1, 2, 3]],                                # not an array
        ]:
            with pytest.raises(slotrt.InvalidArgumentError) as err:
                stream.push(bad)
            assert isinstance(err.value, slotrt.Error)
        nan = chw.copy()
        nan[1, 2, 3] = np.nan
        with pytest.raises(slotrt.InvalidArgumentError, match="NaN"):
            stream.push(nan)
        with pytest.raises(slotrt.InvalidArgumentError):
            stream.process(clip.rgb[0], fmt="rgba")
        assert stream.stats["frames_in"] == 0


def test_state_round_trip(model, clip):
    with slotrt.Session(model, deterministic=True) as session:
        a, b = session.open_stream(), session.open_stream()
        for frame in clip.rgb[:3]:
            a.process(frame)
        state = a.state
        assert state.shape == (6, 64)
        b.process(clip.rgb[0])
        b.state = state
        assert np.array_equal(a.process(clip.rgb[3]).slots, b.process(clip.rgb[3]).slots)
        with pytest.raises(slotrt.InvalidArgumentError):
            b.state = state[:3]
        with pytest.raises(slotrt.UnsupportedError):
            b.seed_boxes(np.zeros((6, 4)))


def test_use_after_close_raises_closed(model, clip):
    session = slotrt.Session(model, warmup=False)
    stream = session.open_stream()
    stream.close()
    with pytest.raises(slotrt.ClosedError):
        stream.push(clip.rgb[0])
    other = session.open_stream()
    session.close()
    with pytest.raises(slotrt.ClosedError):
        other.process(clip.rgb[0])  # the C library answers CLOSED
    with pytest.raises(slotrt.ClosedError):
        session.open_stream()
    del other
    gc.collect()


def test_load_errors(tmp_path):
    with pytest.raises(slotrt.Error) as err:
        slotrt.Model.load(tmp_path / "missing.safetensors")
    assert isinstance(err.value, OSError) and err.value.status_name == "SLOTRT_STATUS_IO"
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(MODEL.read_bytes()[:5000])
    with pytest.raises(slotrt.BadModelError):
        slotrt.Model.load(bad)
    with pytest.raises(slotrt.InvalidArgumentError):
        slotrt.Model.load(MODEL, device="tpu")
    with pytest.raises(slotrt.InvalidArgumentError):
        slotrt.Model.load(MODEL, precision="int4")
    with pytest.raises(slotrt.InvalidArgumentError):
        slotrt.Model.load(MODEL, layout="nhwc")
    with pytest.raises(slotrt.Error) as err:
        slotrt.Model.load(MODEL, precision="fp16")  # CUDA only
    assert err.value.status_name == "SLOTRT_STATUS_UNSUPPORTED"


def test_precision_is_reported_and_bf16_stays_close(clip):
    with slotrt.Model.load(MODEL, precision="auto") as auto:
        assert auto.info.precision in ("fp32", "bf16")
    results = {}
    for precision in ("fp32", "bf16"):
        with slotrt.Model.load(MODEL, precision=precision) as m, slotrt.Session(m, deterministic=True) as s:
            assert m.info.precision == precision
            results[precision] = s.open_stream().process(clip.rgb[0])
    a, b = results["fp32"], results["bf16"]
    assert np.linalg.norm(a.slots - b.slots) / np.linalg.norm(a.slots) < 0.05
    assert np.linalg.norm(a.masks - b.masks) / np.linalg.norm(a.masks) < 0.05


def test_layouts_are_reported_and_agree(clip):
    results = {}
    for layout in ("nchw", "channels_last"):
        with slotrt.Model.load(MODEL, layout=layout) as m, slotrt.Session(m, deterministic=True) as s:
            assert m.info.layout == layout
            results[layout] = s.open_stream().process(clip.rgb[0])
    with slotrt.Model.load(MODEL) as auto:
        assert auto.info.layout in ("nchw", "channels_last")
    a, b = results["nchw"], results["channels_last"]
    np.testing.assert_allclose(a.slots, b.slots, atol=1e-4)
    np.testing.assert_allclose(a.masks, b.masks, atol=1e-4)


def test_torch_shares_results_and_libtorch(model, clip):
    torch = pytest.importorskip("torch")
    with slotrt.Session(model) as session:
        r = session.open_stream().process(clip.rgb[0])
    t = torch.from_numpy(r.slots)
    t[0, 0] = 123.0
    assert r.slots[0, 0] == 123.0, "torch.from_numpy shares the result's memory"
    # One libtorch in the process: the one of the torch package.
    maps = Path("/proc/self/maps").read_text()
    paths = {line.split()[-1] for line in maps.splitlines() if "libtorch_cpu.so" in line}
    assert len(paths) == 1, paths
    assert Path(next(iter(paths))).parent == Path(torch.__file__).parent / "lib"
