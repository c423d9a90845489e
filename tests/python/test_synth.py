"""The synthetic generator through the C ABI: determinism, splits, ground truth."""

import numpy as np
import pytest

import slotrt


def test_deterministic_and_split_disjoint():
    a = slotrt.generate_clip("test", 4, frames=5)
    b = slotrt.generate_clip("test", 4, frames=5)
    c = slotrt.generate_clip("train", 4, frames=5)
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.ids, b.ids)
    assert a.seed != c.seed and not np.array_equal(a.rgb, c.rgb)


def test_masks_match_objects():
    clip = slotrt.generate_clip("val", 0, width=80, height=48, frames=8, min_objects=3, max_objects=3)
    assert clip.rgb.shape == (8, 48, 80, 3) and clip.ids.shape == (8, 48, 80)
    assert clip.num_objects == 3
    assert set(np.unique(clip.ids)) <= {0, 1, 2, 3}
    # Each object is one colour wherever its mask says it is.
    for obj in range(1, 4):
        pixels = clip.rgb[clip.ids == obj]
        if len(pixels):
            assert len(np.unique(pixels, axis=0)) == 1


def test_bad_options_raise_with_the_field_named():
    with pytest.raises(slotrt.SlotrtError) as err:
        slotrt.generate_clip(width=0)
    assert "width" in err.value.message
    with pytest.raises(slotrt.SlotrtError) as err:
        slotrt.generate_clip(shapes=1 << 30)
    assert err.value.status_name == "SLOTRT_STATUS_UNKNOWN_ENUM"
