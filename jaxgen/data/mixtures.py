"""2-D toy distributions for studying mode collapse: `ring8`, `grid25` and `swissroll`.

The Gaussian mixtures follow the PacGAN setup (Lin et al. 2018, Sec. 5.1 and Table 1) so that our
mode counts sit beside the published ones: equal weights, isotropic components,
  ring8:  8 means (r cos(2 pi i / 8), r sin(2 pi i / 8)), i = 0..7, r = 1, std 0.01;
  grid25: 25 means (-4 + 2i, -4 + 2j), i, j = 0..4, std 0.05.
Labels are the index of the component a sample was drawn from.

Training data: by default a fixed training set of `num_examples=100_000` samples (PacGAN's size),
drawn once from `data_seed` and read in epoch-wise permutations like any finite data set;
`num_examples=None` draws fresh samples for every step instead. `eval_data` always draws fresh
samples from the true distribution (2500 by default, the sample size of PacGAN's mode count).
"""

from __future__ import annotations

import abc
import functools

import numpy as np
from scipy.special import logsumexp

from jaxgen.data.base import (
  EVAL_STREAM,
  FRESH_SAMPLES_STREAM,
  TRAINING_SET_STREAM,
  Batch,
  Dataset,
  batch_indices,
  check_int,
  rng_for,
)

PACGAN_NUM_EXAMPLES = 100_000
PACGAN_NUM_EVAL_SAMPLES = 2500


def _check_positive(name: str, value: float) -> float:
  value = float(value)
  if not (np.isfinite(value) and value > 0):
    raise ValueError(f"{name} must be a finite number > 0; got {value!r}.")
  return value


class Distribution2D(Dataset):
  """A low-dimensional distribution we can sample (2-D unless `example_shape` says otherwise),
  served as a fixed training set or as fresh samples."""

  example_shape = (2,)

  def __init__(self, name: str, num_classes: int, num_examples: int | None, data_seed: int):
    self.name = name
    self.num_classes = num_classes
    self.num_examples = (
      None if num_examples is None else check_int("num_examples", num_examples, minimum=1)
    )
    self.data_seed = check_int("data_seed", data_seed, minimum=0)

  @abc.abstractmethod
  def sample(self, num: int, rng: np.random.Generator) -> Batch:
    """`num` samples: {"x": float32 [num, *example_shape], "y": int32 [num]}."""

  @functools.cached_property
  def _training_set(self) -> Batch:
    return self.sample(self.num_examples, rng_for(TRAINING_SET_STREAM, self.data_seed))

  def _rows(self, seed: int, step: int, batch_size: int, start: int, stop: int) -> Batch:
    if self.num_examples is None:
      # Draw the whole global batch so every process slices the same one.
      fresh = self.sample(batch_size, rng_for(FRESH_SAMPLES_STREAM, seed, step))
      return {key: value[start:stop] for key, value in fresh.items()}
    indices = batch_indices(seed, step, batch_size, start, stop, self.num_examples)
    return {key: value[indices] for key, value in self._training_set.items()}

  def eval_data(self, num: int | None = None, seed: int = 0) -> Batch:
    """`num` (default 2500) fresh samples of the true distribution, fixed by `seed`."""
    num = PACGAN_NUM_EVAL_SAMPLES if num is None else check_int("num", num, minimum=1)
    return self.sample(num, rng_for(EVAL_STREAM, check_int("seed", seed, minimum=0)))


class GaussianMixture(Distribution2D):
  """An equal-weight mixture of isotropic 2-D Gaussians; `centers` [M, 2] and `std` for metrics."""

  def __init__(
    self,
    name: str,
    centers: np.ndarray,
    std: float,
    num_examples: int | None,
    data_seed: int,
  ):
    super().__init__(name, len(centers), num_examples, data_seed)
    self.centers = np.asarray(centers, dtype=np.float32)
    self.centers.flags.writeable = False
    self.std = _check_positive("std", std)

  def sample(self, num: int, rng: np.random.Generator) -> Batch:
    """`num` points of uniformly drawn modes: {"x": float32 [num, 2], "y": int32 mode [num]}."""
    modes = rng.integers(len(self.centers), size=num)
    noise = rng.standard_normal((num, 2))
    points = self.centers[modes] + self.std * noise
    return {"x": points.astype(np.float32), "y": modes.astype(np.int32)}

  def log_prob(self, points: np.ndarray) -> np.ndarray:
    """Log density at `points` [N, 2].

    log p(x) = logsumexp_m(-|x - mu_m|^2 / (2 std^2)) - log M - log(2 pi std^2): the mixture of M
    equal-weight 2-D Gaussians N(mu_m, std^2 I), whose density is 1 / (2 pi std^2) exp(...).
    """
    points = np.asarray(points, dtype=np.float64)
    squared = np.sum((points[:, None, :] - self.centers[None].astype(np.float64)) ** 2, axis=-1)
    log_kernel = logsumexp(-squared / (2 * self.std**2), axis=1)
    return log_kernel - np.log(len(self.centers)) - np.log(2 * np.pi * self.std**2)


def ring_centers(num_modes: int, radius: float) -> np.ndarray:
  """Means (r cos(2 pi i / M), r sin(2 pi i / M)), i = 0..M-1 (PacGAN, Lin et al. 2018, Sec. 5.1).

  The angles are 2 pi i / M, not np.linspace(0, 2 pi, M) as in the widely copied unrolled-GAN
  notebook: linspace includes both 0 and 2 pi, which are the same point, so it yields M - 1
  distinct modes.
  """
  angles = 2 * np.pi * np.arange(num_modes) / num_modes
  return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_centers(side: int, spacing: float) -> np.ndarray:
  """Means (-c + s i, -c + s j), i, j = 0..side-1, c = s (side - 1) / 2 (PacGAN, Sec. 5.1)."""
  axis = spacing * (np.arange(side) - (side - 1) / 2)
  xs, ys = np.meshgrid(axis, axis, indexing="ij")
  return np.stack([xs.ravel(), ys.ravel()], axis=1)


class SwissRoll(Distribution2D):
  """The 2-D swiss roll of Gulrajani et al. 2017's toy experiments (their `gan_toy.py`).

  t = 1.5 pi (1 + 2u), u ~ U(0, 1); point = ((t cos t, t sin t) + noise N(0, noise^2 I)) / scale:
  scikit-learn's `make_swiss_roll` (Marsland 2009) projected on its (x, z) plane, noise 0.25 and
  scale 7.5 as in that script, which puts the roll inside about [-2, 2]^2. Labels are all 0.
  """

  def __init__(self, noise: float, scale: float, num_examples: int | None, data_seed: int):
    super().__init__("swissroll", 0, num_examples, data_seed)
    if not (np.isfinite(noise) and noise >= 0):
      raise ValueError(f"noise must be a finite number >= 0; got {noise!r}.")
    self.noise = float(noise)
    self.scale = _check_positive("scale", scale)

  def sample(self, num: int, rng: np.random.Generator) -> Batch:
    """`num` points of the roll (class docstring): {"x": float32 [num, 2], "y": int32 zeros}."""
    t = 1.5 * np.pi * (1 + 2 * rng.uniform(size=num))
    roll = np.stack([t * np.cos(t), t * np.sin(t)], axis=1)
    points = (roll + self.noise * rng.standard_normal((num, 2))) / self.scale
    return {"x": points.astype(np.float32), "y": np.zeros(num, np.int32)}


def ring8(
  radius: float = 1.0,
  std: float = 0.01,
  num_examples: int | None = PACGAN_NUM_EXAMPLES,
  data_seed: int = 0,
) -> GaussianMixture:
  """PacGAN's 2D-ring: 8 Gaussians on a circle of `radius`, std 0.01 (variance 1e-4)."""
  centers = ring_centers(8, _check_positive("radius", radius))
  return GaussianMixture("ring8", centers, std, num_examples, data_seed)


def grid25(
  std: float = 0.05,
  num_examples: int | None = PACGAN_NUM_EXAMPLES,
  data_seed: int = 0,
) -> GaussianMixture:
  """PacGAN's 2D-grid: 25 Gaussians at {-4, -2, 0, 2, 4}^2, std 0.05 (variance 0.0025)."""
  return GaussianMixture("grid25", grid_centers(5, 2.0), std, num_examples, data_seed)


def swissroll(
  noise: float = 0.25,
  scale: float = 7.5,
  num_examples: int | None = PACGAN_NUM_EXAMPLES,
  data_seed: int = 0,
) -> SwissRoll:
  """The swiss roll of Gulrajani et al. 2017 (see `SwissRoll`), unlabelled."""
  return SwissRoll(noise, scale, num_examples, data_seed)
