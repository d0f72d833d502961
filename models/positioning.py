"""Trilateration of personnel tags from tag-to-anchor ranges, a whole batch at a time.

A plant of 2,000 tags at 1 Hz asks for 2,000 fixes a second; a Python loop with one
``scipy.optimize`` call per fix manages a few hundred. Everything here works on padded
arrays ``(fixes, anchors)`` with a validity mask, so one batch is a few dozen numpy
operations whatever its size.

The solver, per fix:

1. **Linear start.** Squared ranges minus their weighted mean give linear equations in the
   position (the classic linearisation); solved as one batched normal-equation system.
2. **Robust Gauss-Newton (IRLS).** Residuals ``|p - a_i| - r_i`` are re-weighted each
   iteration: Huber weights first (safe from a poor start), then Tukey's biweight, which
   gives a grossly wrong range (non-line-of-sight, a reflection) zero weight. The scale is
   the larger of the known ranging noise and the MAD of the residuals.
3. **Outlier rejection.** Ranges whose final residual exceeds ``reject_k`` scales are dropped
   for good (when enough ranges stay) and the fix is re-solved without them.
4. **Accuracy estimate.** ``2 * sqrt(trace(cov))`` of the horizontal position (about the
   95 % radius of a circular Gaussian), from the weighted Jacobian and the residual scale.

2D fixes assume the tag at a known height (a person's chest, per floor): each slant range
is projected onto the horizontal plane with the anchor's height difference. Floor-aware
fixes first pick the floor (the floor of the anchors the tag hears best, closest ranges
weigh most) and then solve in 2D at that floor's height, with that floor's anchors only:
concrete slabs make cross-floor ranges unreliable. ``dim=3`` solves x, y and z freely
(anchors at several heights, e.g. a multi-level pipe rack).

The naive baseline the benchmark compares against is :func:`solve_naive`: the same
Gauss-Newton with unit weights and no rejection (unweighted least squares).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
BOOL = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]

VERSION: Final = "positioning-1"
"""Version of the solver and its defaults (stored with each fix's accuracy)."""
_HUBER_K: Final = 1.5
_TUKEY_C: Final = 4.685
_MAD_TO_SIGMA: Final = 1.4826


@dataclass(frozen=True, slots=True)
class SolverConfig:
    """Tuning of :func:`solve` (defaults fit UWB; pass ``sigma_m`` for the technology).

    Attributes:
        sigma_m: Ranging noise of line-of-sight ranges (UWB ~0.1-0.3 m, BLE ~2-4 m).
        iterations: Gauss-Newton iterations per pass (Huber for the first third).
        reject_k: A range whose residual exceeds this many scales is dropped.
        tag_height_m: Height of the tag above its floor in 2D solves.
        max_range_m: Longer ranges are refused (a device fault, not a distance).
    """

    sigma_m: float = 0.3
    iterations: int = 12
    reject_k: float = 3.5
    tag_height_m: float = 1.2
    max_range_m: float = 500.0


@dataclass(frozen=True, slots=True)
class Fixes:
    """Solved positions of a batch, row ``i`` for fix ``i``.

    Attributes:
        xyz: ``(n, 3)`` positions (z = tag height in 2D solves).
        accuracy_m: ``(n,)`` estimated 95 % horizontal error radius; ``inf`` if unsolved.
        used: ``(n, k)`` ranges kept after outlier rejection.
        ok: ``(n,)`` whether the fix had enough usable ranges to be solved.
        floor: ``(n,)`` floor of each fix (0 without floors).
    """

    xyz: F64
    accuracy_m: F64
    used: BOOL
    ok: BOOL
    floor: I64


def _batched_solve(a: F64, b: F64) -> tuple[F64, BOOL]:
    """Solve ``a x = b`` for stacks of 2x2 or 3x3 systems; singular ones give x = 0, ok False."""
    d = a.shape[-1]
    det = np.linalg.det(a)
    scale = np.abs(a).max(axis=(1, 2)) ** d + 1e-300
    ok = np.abs(det) > 1e-12 * scale
    eye = np.eye(d)[None, :, :]
    safe = np.where(ok[:, None, None], a, eye)
    x = np.linalg.solve(safe, b[..., None])[..., 0]
    return np.where(ok[:, None], x, 0.0), ok


def _linear_start(anchors: F64, ranges: F64, w: F64) -> tuple[F64, BOOL]:
    """Linearised least squares: ``|p|^2 - 2 a.p + |a|^2 = r^2`` minus its weighted mean."""
    sw = w.sum(axis=1, keepdims=True)
    sw = np.where(sw > 0, sw, 1.0)
    a_mean = (w[..., None] * anchors).sum(axis=1) / sw
    a2 = (anchors * anchors).sum(axis=2)
    rhs_raw = a2 - ranges * ranges
    rhs = rhs_raw - (w * rhs_raw).sum(axis=1, keepdims=True) / sw
    m = 2.0 * (anchors - a_mean[:, None, :])
    mw = m * w[..., None]
    ata = np.einsum("nki,nkj->nij", mw, m)
    atb = np.einsum("nki,nk->ni", mw, rhs)
    p, ok = _batched_solve(ata, atb)
    # A degenerate geometry (all anchors on a line) still gets the weighted centroid.
    return np.where(ok[:, None], p, a_mean), ok


def _lmeds_start(anchors: F64, ranges: F64, valid: BOOL, need: int) -> F64:
    """Least-median start: the linear fix of all ranges or of all but one, whichever fits best.

    One grossly wrong range drags the linear fix of all ranges far enough that Gauss-Newton
    may settle beside the truth; one of the leave-one-out fixes is free of it, and the median
    of absolute residuals (blind to a minority of outliers) picks that one.
    """
    n, k = ranges.shape
    w = valid.astype(np.float64)
    cands = [_linear_start(anchors, ranges, w)[0]]
    for j in range(k):
        wj = w.copy()
        wj[:, j] = 0.0
        cands.append(_linear_start(anchors, ranges, wj)[0])
    best = cands[0]
    best_score = np.full(n, np.inf)
    for j, c in enumerate(cands):
        res, _, _ = _residuals(c, anchors, ranges)
        score = _masked_median(np.abs(res), valid)
        # A leave-one-out start needs enough ranges left to be determined.
        usable = (valid.sum(axis=1) - (1 if j else 0)) >= need
        better = usable & np.isfinite(score) & (score < best_score)
        best = np.where(better[:, None], c, best)
        best_score = np.where(better, score, best_score)
    return best


def _residuals(p: F64, anchors: F64, ranges: F64) -> tuple[F64, F64, F64]:
    diff = p[:, None, :] - anchors
    dist = np.sqrt((diff * diff).sum(axis=2))
    safe = np.maximum(dist, 1e-9)
    return dist - ranges, diff / safe[..., None], dist


def _masked_median(values: F64, mask: BOOL) -> F64:
    """Median of each row over its masked entries (lower median; inf for an empty row).

    ``np.nanmedian`` is several times slower on many short rows; a sort and a take is not.
    """
    v = np.sort(np.where(mask, values, np.inf), axis=1)
    cnt = mask.sum(axis=1)
    idx = np.maximum(cnt - 1, 0) // 2
    return np.take_along_axis(v, idx[:, None], axis=1)[:, 0]


def _scale(res: F64, mask: BOOL, sigma: float) -> F64:
    """Robust residual scale per fix: max(sigma, 1.4826 * MAD) over the valid ranges."""
    mad = _masked_median(np.abs(res), mask)
    mad = np.where(np.isfinite(mad), mad, 0.0)
    return np.maximum(sigma, _MAD_TO_SIGMA * mad)


def _gauss_newton(
    p: F64, anchors: F64, ranges: F64, mask: BOOL, sigma: float, iterations: int, *, robust: bool
) -> tuple[F64, F64, F64]:
    """Iteratively re-weighted Gauss-Newton; returns position, final weights and residuals."""
    maskf = mask.astype(np.float64)
    d = p.shape[1]
    w = maskf
    res = np.zeros_like(ranges)
    damping = 1e-6 * np.eye(d)[None, :, :]
    for it in range(iterations):
        res, jac, _ = _residuals(p, anchors, ranges)
        if robust:
            s = _scale(res, mask, sigma)[:, None]
            u = res / s
            if it < iterations // 3:
                au = np.abs(u)
                w = maskf * np.where(au <= _HUBER_K, 1.0, _HUBER_K / np.maximum(au, 1e-12))
            else:
                t = u / _TUKEY_C
                w = maskf * np.where(np.abs(t) < 1.0, (1.0 - t * t) ** 2, 0.0)
        jw = jac * w[..., None]
        jtj = np.einsum("nki,nkj->nij", jw, jac) + damping
        jtr = np.einsum("nki,nk->ni", jw, res)
        step, ok = _batched_solve(jtj, jtr)
        p = p - np.where(ok[:, None], step, 0.0)
    res, _, _ = _residuals(p, anchors, ranges)
    return p, w, res


def _accuracy(p: F64, anchors: F64, w: F64, res: F64, sigma: float) -> F64:
    """``2 sqrt(trace)`` of the horizontal covariance: about the 95 % error radius."""
    _, jac, _ = _residuals(p, anchors, np.zeros_like(res))
    sw = w.sum(axis=1)
    dof = np.maximum(sw - p.shape[1], 1.0)
    s2 = np.maximum((w * res * res).sum(axis=1) / dof, sigma * sigma)
    jw = jac * w[..., None]
    jtj = np.einsum("nki,nkj->nij", jw, jac)
    d = p.shape[1]
    jtj = jtj + 1e-9 * np.eye(d)[None, :, :]
    with np.errstate(all="ignore"):
        cov = np.linalg.inv(jtj)
    horiz = cov[:, 0, 0] + cov[:, 1, 1]
    acc = 2.0 * np.sqrt(np.maximum(horiz, 0.0) * s2)
    return np.where(np.isfinite(acc), acc, np.inf)


def _prepare(anchors: F64, ranges: F64, mask: BOOL | None, config: SolverConfig) -> tuple[F64, F64, BOOL]:
    anchors = np.asarray(anchors, np.float64)
    ranges = np.asarray(ranges, np.float64)
    if anchors.ndim != 3 or anchors.shape[2] != 3 or ranges.shape != anchors.shape[:2]:
        msg = f"anchors must be (n, k, 3) and ranges (n, k); got {anchors.shape} and {ranges.shape}"
        raise ValueError(msg)
    valid = np.isfinite(ranges) & (ranges >= 0) & (ranges <= config.max_range_m) & np.isfinite(anchors).all(axis=2)
    if mask is not None:
        valid &= np.asarray(mask, bool)
    return np.where(valid[..., None], anchors, 0.0), np.where(valid, ranges, 0.0), valid


def _flatten(anchors: F64, ranges: F64, valid: BOOL, z: F64) -> tuple[F64, F64]:
    """Slant ranges -> horizontal ranges at tag height ``z`` (per fix)."""
    dz = anchors[..., 2] - z[:, None]
    h2 = ranges * ranges - dz * dz
    # A range shorter than the height difference is noise around "right below the anchor".
    return anchors[..., :2], np.sqrt(np.maximum(h2, 0.0)) * valid


def solve(
    anchors: F64,
    ranges: F64,
    mask: BOOL | None = None,
    *,
    config: SolverConfig | None = None,
    dim: int = 2,
    z: F64 | float | None = None,
    anchor_floor: I64 | None = None,
    floor_z: F64 | None = None,
) -> Fixes:
    """Robust positions of a batch of fixes.

    Args:
        anchors: ``(n, k, 3)`` anchor positions heard by each fix (padding rows anything).
        ranges: ``(n, k)`` measured distances in metres (NaN = not heard).
        mask: ``(n, k)`` which entries are real ranges (default: the finite ones).
        config: Noise level and tuning.
        dim: 2 (known tag height) or 3 (free height).
        z: Tag height for 2D solves (scalar or ``(n,)``); default the floor height plus
            ``config.tag_height_m``.
        anchor_floor: ``(n, k)`` floor of each anchor: enables floor-aware solving.
        floor_z: Elevation of each floor index (``floor_z[f]``); default ``4 m * f``.

    Raises:
        ValueError: On mismatched shapes or ``dim`` not 2 or 3.
    """
    cfg = config or SolverConfig()
    if dim not in (2, 3):
        msg = f"dim must be 2 or 3, got {dim}"
        raise ValueError(msg)
    anc, rng, valid = _prepare(anchors, ranges, mask, cfg)
    n = anc.shape[0]
    floor = np.zeros(n, np.int64)
    if anchor_floor is not None:
        af = np.asarray(anchor_floor, np.int64)
        floor = _pick_floor(af, rng, valid)
        valid = valid & (af == floor[:, None])
    if dim == 3:
        with np.errstate(all="ignore"):
            p0 = _lmeds_start(anc, rng, valid, 4)
        p, w, used, ok = _robust(p0, anc, rng, valid, cfg, need=4)
        acc = _accuracy(p, anc, w, _residuals(p, anc, rng)[0], cfg.sigma_m)
        return Fixes(p, np.where(ok, acc, np.inf), used, ok, floor)
    if z is None:
        fz = np.asarray(floor_z, np.float64) if floor_z is not None else 4.0 * np.arange(floor.max(initial=0) + 1)
        zz = fz[floor] + cfg.tag_height_m
    else:
        zz = np.broadcast_to(np.asarray(z, np.float64), (n,)).copy()
    a2, r2 = _flatten(anc, rng, valid, zz)
    with np.errstate(all="ignore"):
        p0 = _lmeds_start(a2, r2, valid, 3)
    p, w, used, ok = _robust(p0, a2, r2, valid, cfg, need=3)
    acc = _accuracy(p, a2, w, _residuals(p, a2, r2)[0], cfg.sigma_m)
    xyz = np.column_stack([p, zz])
    return Fixes(xyz, np.where(ok, acc, np.inf), used, ok, floor)


def _pick_floor(af: I64, rng: F64, valid: BOOL) -> I64:
    """The floor whose anchors the tag hears best: votes weighted by 1 / (range + 1 m)."""
    floors = np.unique(af[valid]) if valid.any() else np.zeros(1, np.int64)
    votes = np.stack([((af == f) & valid) / (rng + 1.0) for f in floors.tolist()], axis=1).sum(axis=2)
    return np.asarray(floors[np.argmax(votes, axis=1)], np.int64)


def _robust(
    p0: F64, anchors: F64, ranges: F64, valid: BOOL, cfg: SolverConfig, *, need: int
) -> tuple[F64, F64, BOOL, BOOL]:
    """IRLS, then hard rejection of the outliers and a final re-solve without them."""
    p, w, res = _gauss_newton(p0, anchors, ranges, valid, cfg.sigma_m, cfg.iterations, robust=True)
    scale = _scale(res, valid & (w > 0.05), cfg.sigma_m)
    keep = valid & (np.abs(res) <= cfg.reject_k * scale[:, None])
    enough = keep.sum(axis=1) >= need
    used = np.where(enough[:, None], keep, valid)
    p, w, _ = _gauss_newton(p, anchors, ranges, used, cfg.sigma_m, max(4, cfg.iterations // 2), robust=True)
    ok = (valid.sum(axis=1) >= need) & np.isfinite(p).all(axis=1)
    return p, w, used, ok


def solve_naive(anchors: F64, ranges: F64, mask: BOOL | None = None, *, z: float = 1.2, iterations: int = 12) -> F64:
    """Baseline: unweighted nonlinear least squares, no outlier handling; ``(n, 2)`` positions."""
    cfg = SolverConfig(iterations=iterations)
    anc, rng, valid = _prepare(anchors, ranges, mask, cfg)
    zz = np.full(anc.shape[0], z)
    a2, r2 = _flatten(anc, rng, valid, zz)
    p0, _ = _linear_start(a2, r2, valid.astype(np.float64))
    p, _, _ = _gauss_newton(p0, a2, r2, valid, cfg.sigma_m, iterations, robust=False)
    return p


def pad_ranges(
    fixes: list[list[tuple[int, float]]], anchor_xyz: F64, anchor_floor: I64 | None = None
) -> tuple[F64, F64, BOOL, I64 | None]:
    """Ragged ``[(anchor index, range), ...]`` per fix -> the padded arrays :func:`solve` takes."""
    n = len(fixes)
    k = max((len(f) for f in fixes), default=0) or 1
    idx = np.zeros((n, k), np.int64)
    rng = np.zeros((n, k), np.float64)
    mask = np.zeros((n, k), bool)
    for i, f in enumerate(fixes):
        m = len(f)
        if m:
            a, r = zip(*f, strict=True)
            idx[i, :m] = a
            rng[i, :m] = r
            mask[i, :m] = True
    floors = np.asarray(anchor_floor, np.int64)[idx] if anchor_floor is not None else None
    return np.asarray(anchor_xyz, np.float64)[idx], rng, mask, floors


def smooth(
    prev_xy: F64, prev_var: F64, dt_s: F64, xy: F64, accuracy_m: F64, *, speed_mps: float = 1.5
) -> tuple[F64, F64]:
    """One step of a random-walk Kalman filter per track (vectorised over tracks).

    A person moves at most about ``speed_mps``, so between fixes the track's variance grows
    by ``(speed * dt)^2``; a fix weighs by its own variance ``(accuracy / 2)^2``. UWB fixes
    (accuracy ~0.5 m) pass almost unchanged; BLE fixes (~6 m) are averaged over a few
    seconds, which is what removes their jitter. A track with no history (NaN) starts at
    the fix. Returns the smoothed positions and their variances.
    """
    r = (np.asarray(accuracy_m, np.float64) / 2.0) ** 2
    q = (speed_mps * np.maximum(np.asarray(dt_s, np.float64), 0.0)) ** 2
    p_pred = prev_var + q
    fresh = ~np.isfinite(prev_xy).all(axis=1) | ~np.isfinite(p_pred) | ~np.isfinite(r)
    gain = np.where(fresh, 1.0, p_pred / np.maximum(p_pred + r, 1e-12))
    prev = np.where(fresh[:, None], xy, prev_xy)
    out = prev + gain[:, None] * (xy - prev)
    var = np.where(fresh, np.where(np.isfinite(r), r, 1e6), (1.0 - gain) * p_pred)
    return out, var
