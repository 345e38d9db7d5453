"""The Geometry Score (Khrulkov & Oseledets 2018, "Geometry Score: A Method For Comparing
Generative Adversarial Networks", arXiv:1802.02664): how alike the topology of two point clouds
is, read from the persistent first homology (H1, loops) of witness complexes.

For one draw of `num_landmarks` landmarks L from the points X (every point of X a witness), the
witness complex is built up to the relaxation alpha_max = gamma * max_{x in X, l in L} |x - l|
(Euclidean distances, not squared, as the authors' code passes them to gudhi). Its H1 persistence
diagram (coefficients in Z/2) gives beta_1(alpha), the number of H1 bars alive at alpha, and

    RLT(i) = |{alpha in [0, alpha_max] : beta_1(alpha) = i}| / alpha_max,   i = 0 .. i_max - 1

the relative living time of i loops (paper, eqs. 2-3; a bar that never dies lives to alpha_max).
The mean over landmark draws is MRLT(i) (paper, Algorithm 1), and the Geometry Score of two
point clouds is

    GS(X1, X2) = sum_i (MRLT_1(i) - MRLT_2(i))^2                       (paper, Algorithm 2).

The authors' code (github.com/KhrulkovV/geometry-score, gs/utils.py and gs/geom_score.py) is
followed, with one difference: landmarks are drawn without replacement (theirs: with; a repeated
landmark is the same point twice and adds no loop). As in their code, the time during which
i_max or more bars are alive is in no RLT(i) (the paper lists i < i_max only): an RLT then sums to
less than 1, by that share, which `1 - rlt.sum()` gives (the evaluator reports it). The paper's
settings, the defaults here, are L = 64, gamma = 1/128 and i_max = 100 (gamma: their MNIST
example's; their code's default when gamma is omitted is 1/128 * N / 5000, the same at N = 5000
points), with n = 10000 landmark draws; the default here is n = 100, as in the authors' example
notebooks. gamma sets how far the filtration runs: their 2-D examples use L = 32, gamma = 1/8.

The persistent homology is gudhi's (`gudhi.WitnessComplex`, as in the authors' code), an
optional dependency: `pip install gudhi`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.distance import cdist

__all__ = [
  "DEFAULT_GAMMA",
  "DEFAULT_I_MAX",
  "DEFAULT_LANDMARKS",
  "DEFAULT_REPETITIONS",
  "geometry_score",
  "geometry_score_of",
  "relative_living_times",
  "relative_living_times_of_bars",
  "relative_living_times_per_draw",
  "require_gudhi",
  "witness_h1_bars",
]

DEFAULT_LANDMARKS = 64  # the paper's L_0
DEFAULT_GAMMA = 1 / 128  # the paper's gamma (their MNIST example)
DEFAULT_I_MAX = 100  # the paper's i_max
DEFAULT_REPETITIONS = 100  # the paper uses 10000 landmark draws; their example notebooks 100
GUDHI_MISSING = "the Geometry Score needs gudhi (persistent homology): pip install gudhi"


def require_gudhi():
  """The gudhi module, imported on first use; an ImportError of one line saying how to install it
  when it is missing."""
  try:
    import gudhi  # noqa: PLC0415
  except ImportError:
    raise ImportError(f"{GUDHI_MISSING}.") from None
  return gudhi


def _as_points(name: str, points) -> np.ndarray:
  """`points` [N, ...] (2-D points, or images flattened as the paper flattens MNIST) as a float64
  [N, d] array; ValueError naming `name` if there is no feature axis or a value is not finite."""
  points = np.asarray(points)
  if points.ndim < 2:
    raise ValueError(
      f"{name} must be points [N, d] or images [N, H, W, C]; got shape {points.shape} (for 1-D "
      "values pass them as [N, 1])."
    )
  points = points.reshape(len(points), -1).astype(np.float64)
  if not np.all(np.isfinite(points)):
    raise ValueError(f"{name} holds non-finite values; the Geometry Score needs finite points.")
  return points


def _check_settings(num_points: int, num_landmarks, gamma, i_max, num_repetitions) -> None:
  """ValueError of one line for a setting the Geometry Score cannot run with."""
  for name, value, minimum in (
    ("num_landmarks", num_landmarks, 3),  # fewer than 3 landmarks span no loop
    ("i_max", i_max, 1),
    ("num_repetitions", num_repetitions, 1),
  ):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
      raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
  if num_points < num_landmarks:
    raise ValueError(
      f"num_landmarks = {num_landmarks} landmarks are drawn from the points without replacement, "
      f"but there are only {num_points} points; give more points or fewer landmarks."
    )
  ok = isinstance(gamma, int | float | np.floating) and not isinstance(gamma, bool)
  if not (ok and math.isfinite(gamma) and 0 < gamma <= 1):
    raise ValueError(
      f"gamma must be a number in (0, 1] (alpha_max = gamma * the largest witness-landmark "
      f"distance; the paper's 1/128); got {gamma!r}."
    )


def witness_h1_bars(points: np.ndarray, landmarks: np.ndarray, alpha_max: float) -> np.ndarray:
  """The H1 persistence bars [k, 2] (birth, death; death inf for a bar alive at alpha_max) of
  the witness complex of `landmarks` witnessed by `points`, built up to relaxation `alpha_max`
  with simplices up to triangles, homology over Z/2 (the authors' `gs.utils.witness`).

  The nearest-landmark table holds Euclidean distances (not squared), as the authors' code
  gives it to `gudhi.WitnessComplex`: filtration values, and `alpha_max`, are distances.
  """
  gudhi = require_gudhi()
  distances = cdist(points, landmarks)
  order = np.argsort(distances, axis=1)
  # Row w lists (landmark index, distance) from w's nearest landmark to its farthest.
  table = np.dstack([order, np.take_along_axis(distances, order, axis=1)])
  complex_ = gudhi.WitnessComplex(nearest_landmark_table=table)
  tree = complex_.create_simplex_tree(max_alpha_square=alpha_max, limit_dimension=2)
  tree.persistence(homology_coeff_field=2)
  return np.asarray(tree.persistence_intervals_in_dimension(1), np.float64).reshape(-1, 2)


def relative_living_times_of_bars(bars, alpha_max: float, i_max: int = DEFAULT_I_MAX) -> np.ndarray:
  """RLT(i), i = 0 .. i_max - 1, of one persistence diagram (paper, eqs. 2-3): the share of
  [0, alpha_max] during which exactly i of `bars` are alive.

  Args:
    bars: [k, 2] (birth, death) with 0 <= birth <= death <= alpha_max; death inf means alive
      until alpha_max. A bar is alive on [birth, death).
    alpha_max: the end of the filtration, > 0.
    i_max: how many counts RLT holds (0 .. i_max - 1).

  Returns:
    float64 [i_max], summing to 1 less the share of [0, alpha_max] during which i_max or more
    bars are alive (in no RLT(i), as in the paper and the authors' code).
  """
  bars = np.asarray(bars, np.float64).reshape(-1, 2)
  if not (math.isfinite(alpha_max) and alpha_max > 0):
    raise ValueError(f"alpha_max must be a finite number > 0; got {alpha_max!r}.")
  births, deaths = bars[:, 0], np.where(np.isposinf(bars[:, 1]), alpha_max, bars[:, 1])
  bad = ~((births >= 0) & (births <= deaths) & (deaths <= alpha_max))
  if np.any(bad):
    raise ValueError(
      f"bars must satisfy 0 <= birth <= death <= alpha_max = {alpha_max} (death inf: alive until "
      f"alpha_max); got {bars[bad][0].tolist()}."
    )
  # beta_1 changes only at a birth or a death: between two consecutive ones it is constant,
  # so its value at the midpoint holds over the whole piece.
  edges = np.unique(np.concatenate([[0.0, alpha_max], births, deaths]))
  middles = (edges[:-1] + edges[1:]) / 2
  alive = np.sum((births <= middles[:, None]) & (middles[:, None] < deaths), axis=1)
  listed = alive < i_max  # RLT(i) is defined for i < i_max (paper, eqs. 2-3)
  return np.bincount(alive[listed], weights=np.diff(edges)[listed], minlength=i_max) / alpha_max


def relative_living_times_per_draw(
  points,
  num_landmarks: int = DEFAULT_LANDMARKS,
  gamma: float = DEFAULT_GAMMA,
  i_max: int = DEFAULT_I_MAX,
  num_repetitions: int = DEFAULT_REPETITIONS,
  seed: int = 0,
) -> np.ndarray:
  """RLT of `points` for each of `num_repetitions` draws of landmarks (paper, Algorithm 1 before
  its mean; the authors' `gs.rlts`): float64 [num_repetitions, i_max]; arguments as
  `relative_living_times`'s."""
  points = _as_points("points", points)
  _check_settings(len(points), num_landmarks, gamma, i_max, num_repetitions)
  rng = np.random.default_rng(seed)
  living_times = np.empty((num_repetitions, i_max))
  for draw in range(num_repetitions):
    landmarks = points[rng.choice(len(points), num_landmarks, replace=False)]
    # alpha_max = gamma * max_{w, l} d(w, l) (the authors' `gs.utils.witness`).
    alpha_max = gamma * float(cdist(points, landmarks).max())
    if alpha_max == 0:
      raise ValueError("points are all one point: they have no loops to compare.")
    bars = witness_h1_bars(points, landmarks, alpha_max)
    living_times[draw] = relative_living_times_of_bars(bars, alpha_max, i_max)
  return living_times


def relative_living_times(
  points,
  num_landmarks: int = DEFAULT_LANDMARKS,
  gamma: float = DEFAULT_GAMMA,
  i_max: int = DEFAULT_I_MAX,
  num_repetitions: int = DEFAULT_REPETITIONS,
  seed: int = 0,
) -> np.ndarray:
  """The mean relative living times MRLT(i), i = 0 .. i_max - 1, of `points` (paper,
  Algorithm 1): the RLT of H1 averaged over `num_repetitions` draws of landmarks.

  Args:
    points: [N, d] points, or images [N, H, W, C] (flattened to [N, H*W*C]); every point is a
      witness.
    num_landmarks: landmarks per draw, drawn from the points without replacement (paper: 64).
    gamma: alpha_max = gamma * the largest point-landmark distance, in (0, 1] (paper: 1/128).
    i_max: how many loop counts MRLT holds (paper: 100).
    num_repetitions: landmark draws averaged (paper: 10000; default 100).
    seed: the landmark draws' seed.

  Returns:
    float64 [i_max]: MRLT(i) is the expected share of the filtration during which exactly i loops
    are alive; it sums to 1 less the mean share with i_max or more loops (noise-like points in
    many dimensions can have hundreds alive early in the filtration). `argmax` is the number of
    loops the points most plausibly have.
  """
  return relative_living_times_per_draw(
    points, num_landmarks, gamma, i_max, num_repetitions, seed
  ).mean(axis=0)


def geometry_score(mrlt_a, mrlt_b) -> float:
  """The Geometry Score sum_i (MRLT_a(i) - MRLT_b(i))^2 of two mean relative living times
  [i_max] (paper, Algorithm 2): 0 for equal ones, at most 2; lower is more alike."""
  a, b = np.asarray(mrlt_a, np.float64), np.asarray(mrlt_b, np.float64)
  if a.ndim != 1 or a.shape != b.shape:
    raise ValueError(
      f"mrlt_a and mrlt_b must be mean relative living times of one length [i_max]; got shapes "
      f"{a.shape} and {b.shape}."
    )
  if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
    raise ValueError("mrlt_a and mrlt_b must be finite (relative living times are in [0, 1]).")
  return float(np.sum(np.square(a - b)))


def geometry_score_of(
  points_a,
  points_b,
  num_landmarks: int = DEFAULT_LANDMARKS,
  gamma: float = DEFAULT_GAMMA,
  i_max: int = DEFAULT_I_MAX,
  num_repetitions: int = DEFAULT_REPETITIONS,
  seed: int = 0,
) -> float:
  """The Geometry Score of two point clouds (or image sets): `geometry_score` of their
  `relative_living_times` with the same settings (the landmark draws of b follow a's seed + 1)."""
  settings = (num_landmarks, gamma, i_max, num_repetitions)
  mrlt_a = relative_living_times(points_a, *settings, seed=seed)
  mrlt_b = relative_living_times(points_b, *settings, seed=seed + 1)
  return geometry_score(mrlt_a, mrlt_b)
