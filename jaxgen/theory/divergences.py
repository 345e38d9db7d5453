"""Divergences and distances between distributions: KL, JSD, W1, and their closed forms.

- `kl`, `jsd`: discrete Kullback-Leibler and Jensen-Shannon divergences, with 0 log 0 = 0 (the
  library's JSD: Goodfellow et al. 2014, Theorem 1 writes the GAN value as -log 4 + 2 JSD).
- `w1_1d`, `w1_quantiles`: the 1-Wasserstein distance on the line, exact for equal-size samples
  and by quadrature of the quantile formula W1 = int_0^1 |F^-1(u) - G^-1(u)| du.
- `point_masses`, `parallel_segments`: KL, JSD and W1 between two point masses and between two
  parallel segments (Arjovsky et al. 2017, Example 1): KL and JSD jump at theta = 0 and then stay
  flat, W1 = |theta| keeps telling how far apart the supports are.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

# How far from 1 a probability vector may sum (float32 inputs normalised by hand land within ~1e-7).
SUM_TOLERANCE = 1e-6


def _distribution(name: str, p) -> np.ndarray:
  """`p` as a float64 array whose last axis is a probability vector; ValueError otherwise."""
  p = np.asarray(p, np.float64)
  if p.ndim == 0 or p.shape[-1] == 0:
    raise ValueError(f"{name} must be a probability vector (last axis); got shape {p.shape}.")
  if not np.all(np.isfinite(p)):
    raise ValueError(f"{name} has non-finite entries: {p}.")
  if np.any(p < 0):
    raise ValueError(f"{name} has negative entries (min {p.min()}); probabilities are >= 0.")
  sums = p.sum(axis=-1)
  if np.any(np.abs(sums - 1.0) > SUM_TOLERANCE):
    raise ValueError(
      f"{name} must sum to 1 within {SUM_TOLERANCE} along its last axis; got sums {sums}. "
      "Normalise it (p / p.sum()) first."
    )
  return p


def _pair(p, q) -> tuple[np.ndarray, np.ndarray]:
  p, q = _distribution("p", p), _distribution("q", q)
  if p.shape != q.shape:
    raise ValueError(f"p and q must have the same shape; got {p.shape} and {q.shape}.")
  return p, q


def _log_base(base: float) -> float:
  base = float(base)
  if not (np.isfinite(base) and base > 0 and base != 1):
    raise ValueError(
      f"base must be a positive number other than 1 (2 for bits, e for nats); got {base}."
    )
  return math.log(base)


def _kl_nats(p: np.ndarray, q: np.ndarray) -> np.ndarray:
  """sum_i p_i log(p_i / q_i) along the last axis, terms with p_i = 0 counted as 0 (0 log 0 = 0) and
  +inf where p_i > 0 = q_i (Cover & Thomas 2006, Eq. 2.26 and the conventions below it)."""
  positive = p > 0
  safe_p, safe_q = np.where(positive, p, 1.0), np.where(positive, q, 1.0)
  with np.errstate(divide="ignore"):
    terms = np.where(positive, safe_p * (np.log(safe_p) - np.log(safe_q)), 0.0)
  return terms.sum(axis=-1)


def kl(p, q, base: float = math.e) -> np.ndarray:
  """KL(p || q) = sum_i p_i log(p_i / q_i) of discrete distributions (last axis), in `base` units.

  Cover & Thomas 2006, Eq. 2.26; 0 log(0 / q) = 0 and p log(p / 0) = +inf. Leading axes: a batch.
  Raises ValueError when p or q is not a distribution or their shapes differ.
  """
  p, q = _pair(p, q)
  return _kl_nats(p, q) / _log_base(base)


def jsd(p, q, base: float = math.e) -> np.ndarray:
  """JSD(p, q) = KL(p || m) / 2 + KL(q || m) / 2 with m = (p + q) / 2, in units of `base`.

  Lin 1991, Eq. 4.1 (Goodfellow et al. 2014, Theorem 1). It lies in [0, log 2]: 0 iff p = q,
  log 2 (1 bit with base=2) iff the supports are disjoint. m > 0 wherever p or q is, so it is
  always finite.
  Raises ValueError when p or q is not a distribution or their shapes differ.
  """
  p, q = _pair(p, q)
  m = (p + q) / 2
  return (_kl_nats(p, m) + _kl_nats(q, m)) / 2 / _log_base(base)


def w1_1d(samples_a, samples_b) -> float:
  """W1 between the empirical distributions of two equal-size 1-D samples, exactly.

  On the line the sorted coupling is optimal, so W1 = mean_i |a_(i) - b_(i)| over the order
  statistics (the quantile formula for step quantile functions; Villani 2009, Remark 2.19 / Peyre &
  Cuturi 2019, Remark 2.30). Raises ValueError for empty, non-1-D, non-finite or unequal-size
  samples.
  """
  a, b = (np.asarray(s, np.float64) for s in (samples_a, samples_b))
  for name, s in (("samples_a", a), ("samples_b", b)):
    if s.ndim != 1 or s.size == 0 or not np.all(np.isfinite(s)):
      raise ValueError(
        f"{name} must be a non-empty 1-D array of finite numbers; got shape {s.shape}."
      )
  if a.shape != b.shape:
    raise ValueError(
      f"w1_1d needs equal-size samples; got {a.size} and {b.size}. Subsample the larger one."
    )
  return float(np.mean(np.abs(np.sort(a) - np.sort(b))))


def w1_quantiles(
  quantile_p: Callable[[np.ndarray], np.ndarray],
  quantile_q: Callable[[np.ndarray], np.ndarray],
  num: int = 100_000,
) -> float:
  """W1(P, Q) = int_0^1 |F_P^-1(u) - F_Q^-1(u)| du on the line, by the midpoint rule on `num` cells.

  The quantile formula: Villani 2009, Remark 2.19 (ii); Peyre & Cuturi 2019, Remark 2.30. The
  midpoints (i + 1/2) / num avoid u = 0 and 1, where quantiles of unbounded laws are infinite. The
  quantile functions take an array of u in (0, 1) and return F^-1(u) elementwise (e.g.
  `scipy.stats.norm(m, s).ppf` or `gaussian1d(...).quantile`).
  """
  if isinstance(num, bool) or not isinstance(num, int | np.integer) or num < 1:
    raise ValueError(f"num (quadrature cells) must be a positive integer; got {num!r}.")
  u = (np.arange(num) + 0.5) / num
  diff = np.asarray(quantile_p(u), np.float64) - np.asarray(quantile_q(u), np.float64)
  if diff.shape != u.shape or not np.all(np.isfinite(diff)):
    raise ValueError(
      "the quantile functions must map an array of u in (0, 1) to finite values of the same shape."
    )
  return float(np.mean(np.abs(diff)))


def _theta(theta) -> float:
  value = float(theta)
  if not np.isfinite(value):
    raise ValueError(f"theta must be a finite number; got {theta!r}.")
  return value


def _separated_supports(theta) -> dict[str, float]:
  """Divergences between P_0 and its copy translated by theta, whose support it does not meet."""
  theta = _theta(theta)
  if theta == 0:
    return {"kl": 0.0, "jsd": 0.0, "w1": 0.0, "tv": 0.0}
  # Disjoint supports: p log(p / 0) = inf; m = p/2 on each support so JSD = log 2; TV = 1; the
  # translation is an optimal coupling (|theta| is also a lower bound by projecting on the x-axis).
  return {"kl": math.inf, "jsd": math.log(2.0), "w1": abs(theta), "tv": 1.0}


def point_masses(theta) -> dict[str, float]:
  """KL(delta_0 || delta_theta), JSD (nats), W1 and total variation between two point masses.

  {"kl": inf, "jsd": log 2, "w1": |theta|, "tv": 1} for theta != 0, all zero for theta = 0 (the
  point-mass case of Arjovsky et al. 2017, Example 1; JSD in nats, log 2 = 1 bit).
  """
  return _separated_supports(theta)


def parallel_segments(theta) -> dict[str, float]:
  """KL, JSD (nats), W1 and TV between the uniform laws on {0} x [0, 1] and {theta} x [0, 1].

  Arjovsky et al. 2017, Example 1: W = |theta|; JS = log 2, KL = +inf, delta = 1 for theta != 0, and
  all zero for theta = 0. Only W1 is continuous in theta, so only it gives a gradient towards 0.
  """
  return _separated_supports(theta)
