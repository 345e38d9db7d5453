"""Low-dimensional distributions for the GAN theory experiments (`jaxgen.theory`).

- `gaussian1d`: N(mean, std^2) on the line, the data of Goodfellow et al. 2014's Figure 1 and of the
  density-ratio and W1 experiments (closed-form density and quantiles).
- `segment`: the uniform distribution on the vertical segment {offset} x [low, high] of the plane, a
  1-D support in 2-D as in Arjovsky et al. 2017's Example 1 (WGAN, Sec. 2): a generator with one
  latent dimension puts its mass on another curve, and the two supports are disjoint.

Both are served like the 2-D mixtures: a fixed training set or fresh samples per step.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from jaxgen.data.base import Batch
from jaxgen.data.mixtures import Distribution2D, _check_positive

# The theory experiments draw fresh samples: a fixed training set would let D memorise points.
FRESH = None


class Gaussian1D(Distribution2D):
  """N(mean, std^2) in one dimension; `log_prob` and `quantile` in closed form. Labels are 0."""

  example_shape = (1,)

  def __init__(self, mean: float, std: float, num_examples: int | None, data_seed: int):
    super().__init__("gaussian1d", 0, num_examples, data_seed)
    mean = float(mean)
    if not np.isfinite(mean):
      raise ValueError(f"mean must be a finite number; got {mean!r}.")
    self.mean, self.std = mean, _check_positive("std", std)

  def sample(self, num: int, rng: np.random.Generator) -> Batch:
    """`num` draws x ~ N(mean, std^2): {"x": float32 [num, 1], "y": int32 zeros [num]}."""
    points = self.mean + self.std * rng.standard_normal((num, 1))
    return {"x": points.astype(np.float32), "y": np.zeros(num, np.int32)}

  def log_prob(self, points: np.ndarray) -> np.ndarray:
    """log N(x; mean, std^2) at `points` [N, 1] or [N]."""
    return stats.norm(self.mean, self.std).logpdf(np.asarray(points, np.float64).reshape(-1))

  def quantile(self, u: np.ndarray) -> np.ndarray:
    """F^-1(u) = mean + std Phi^-1(u)."""
    return stats.norm(self.mean, self.std).ppf(u)


class Segment(Distribution2D):
  """Uniform on the vertical segment {offset} x [low, high]; labels are 0."""

  def __init__(self, offset: float, low: float, high: float, num_examples, data_seed: int):
    super().__init__("segment", 0, num_examples, data_seed)
    offset, low, high = float(offset), float(low), float(high)
    if not all(np.isfinite([offset, low, high])) or not low < high:
      raise ValueError(
        f"segment needs finite offset, low < high; got offset={offset}, low={low}, high={high}."
      )
    self.offset, self.low, self.high = offset, low, high

  def sample(self, num: int, rng: np.random.Generator) -> Batch:
    """`num` points (offset, U(low, high)): {"x": float32 [num, 2], "y": int32 zeros [num]}."""
    heights = rng.uniform(self.low, self.high, size=num)
    points = np.stack([np.full(num, self.offset), heights], axis=1)
    return {"x": points.astype(np.float32), "y": np.zeros(num, np.int32)}


def gaussian1d(
  mean: float = 0.0, std: float = 1.0, num_examples: int | None = FRESH, data_seed: int = 0
) -> Gaussian1D:
  """N(mean, std^2) on the line (fresh samples every step by default)."""
  return Gaussian1D(mean, std, num_examples, data_seed)


def segment(
  offset: float = 0.0,
  low: float = -1.0,
  high: float = 1.0,
  num_examples: int | None = FRESH,
  data_seed: int = 0,
) -> Segment:
  """Uniform on {offset} x [low, high] (fresh samples every step by default)."""
  return Segment(offset, low, high, num_examples, data_seed)
