"""slotrt's metrics against independent references: scikit-learn's
adjusted_rand_score for ARI / FG-ARI, and numpy + scipy's Hungarian solver
for mBO / mIoU, on random and degenerate labelings."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score

import slotrt

TOL = 1e-9


def random_labels(rng, n, k):
    return rng.integers(0, k, size=n).astype(np.int32)


@pytest.mark.parametrize("seed", range(40))
def test_ari_agrees_with_sklearn_on_random_labelings(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    t = random_labels(rng, n, int(rng.integers(1, 8)))
    # Mix of unrelated predictions and noisy copies of the truth.
    p = random_labels(rng, n, int(rng.integers(1, 8)))
    if seed % 2:
        keep = rng.random(n) < 0.8
        p = np.where(keep, t + 10, p)
    assert abs(slotrt.ari(t, p) - adjusted_rand_score(t, p)) < TOL


@pytest.mark.parametrize("seed", range(20))
def test_fg_ari_agrees_with_sklearn_on_foreground_points(seed):
    rng = np.random.default_rng(100 + seed)
    t = random_labels(rng, 64 * 64, 5)
    p = np.where(rng.random(t.size) < 0.7, t, random_labels(rng, t.size, 6))
    fg = t != 0
    assert abs(slotrt.fg_ari(t, p) - adjusted_rand_score(t[fg], p[fg])) < TOL


def test_large_clip_sized_labelings():
    rng = np.random.default_rng(5)
    t = random_labels(rng, 16 * 64 * 64, 6)
    p = np.where(rng.random(t.size) < 0.5, t, random_labels(rng, t.size, 7))
    assert abs(slotrt.ari(t, p) - adjusted_rand_score(t, p)) < TOL


@pytest.mark.parametrize(
    "t,p",
    [
        ([], []),  # no points
        ([3], [1]),  # one point
        ([1, 1, 1, 1], [2, 2, 2, 2]),  # one cluster on both sides
        ([1, 1, 1, 1], [0, 0, 1, 1]),  # one true cluster, split prediction
        ([0, 1, 2, 3], [0, 0, 0, 0]),  # singletons vs one cluster
        ([0, 1, 2, 3], [3, 2, 1, 0]),  # singletons on both sides
        ([5, 5, 7, 7], [-1, -1, 9, 9]),  # negative and sparse label values
    ],
)
def test_degenerate_cases_agree_with_sklearn(t, p):
    t, p = np.array(t, np.int32), np.array(p, np.int32)
    assert abs(slotrt.ari(t, p) - adjusted_rand_score(t, p)) < TOL


def test_empty_foreground():
    t = np.zeros(10, np.int32)
    p = np.arange(10, dtype=np.int32)
    # No foreground points: ARI of zero points, as sklearn scores it.
    assert slotrt.fg_ari(t, p) == adjusted_rand_score(t[t != 0], p[t != 0]) == 1.0
    scores = slotrt.score_clip(t.reshape(1, 2, 5), p.reshape(1, 2, 5))
    assert scores.frames_with_objects == 0
    assert np.isnan(scores.fg_ari) and np.isnan(scores.video_mbo)


def reference_overlaps(t, p):
    """mBO and Hungarian mIoU, written independently with numpy + scipy."""
    objects = [o for o in np.unique(t) if o != 0]
    segments = np.unique(p)
    iou = np.zeros((len(objects), len(segments)))
    for i, o in enumerate(objects):
        for j, s in enumerate(segments):
            a, b = t == o, p == s
            iou[i, j] = (a & b).sum() / (a | b).sum()
    rows, cols = linear_sum_assignment(-iou)
    return iou.max(axis=1).mean(), iou[rows, cols].sum() / len(objects)


@pytest.mark.parametrize("seed", range(10))
def test_clip_scores_agree_with_references(seed):
    rng = np.random.default_rng(200 + seed)
    frames, h, w = 4, 12, 10
    t = random_labels(rng, frames * h * w, int(rng.integers(2, 6))).reshape(frames, h, w)
    p = np.where(rng.random(t.shape) < 0.6, t, random_labels(rng, t.size, 4).reshape(t.shape))
    s = slotrt.score_clip(t, p)
    per_frame = [reference_overlaps(t[i].ravel(), p[i].ravel()) for i in range(frames)]
    fg = [adjusted_rand_score(t[i][t[i] != 0], p[i][t[i] != 0]) for i in range(frames)]
    assert abs(s.ari - np.mean([adjusted_rand_score(t[i].ravel(), p[i].ravel()) for i in range(frames)])) < TOL
    assert abs(s.fg_ari - np.mean(fg)) < TOL
    assert abs(s.mbo - np.mean([m for m, _ in per_frame])) < TOL
    assert abs(s.miou - np.mean([m for _, m in per_frame])) < TOL
    video_mbo, _ = reference_overlaps(t.ravel(), p.ravel())
    fg_all = t.ravel() != 0
    assert abs(s.video_mbo - video_mbo) < TOL
    assert abs(s.video_fg_ari - adjusted_rand_score(t.ravel()[fg_all], p.ravel()[fg_all])) < TOL


def test_errors_become_exceptions():
    with pytest.raises(ValueError):
        slotrt.ari([0, 1], [0])
    with pytest.raises(slotrt.SlotrtError) as err:
        slotrt.score_clip(np.full((1, 2, 2), -1), np.zeros((1, 2, 2)))
    assert err.value.status_name == "SLOTRT_STATUS_INVALID_ARGUMENT"
    assert "negative" in err.value.message
