"""A trained run back in one call, and its samples in the data's own units.

    run, state = jaxgen.load("workdirs/dcgan_digits")   # the latest checkpoint; step=N for another
    images = jaxgen.sample(run, state, 64)              # uint8 [64, 16, 16, 1] in [0, 255]
    points = jaxgen.sample(*jaxgen.load("workdirs/ring8"), 500)   # float32 [500, 2]

Image data sets hold pixels in [-1, 1] (`jaxgen.data`); `sample` maps them to uint8 by
v -> round((v + 1) * 127.5). A generator whose output layer is unbounded (ProGAN's is linear, as in
Karras et al. 2018) can leave [-1, 1]: such values are clipped to it, and counted, never silently:
`draw` returns the count beside the samples, `sample` warns with it (`ClippedSamplesWarning`).
"""

from __future__ import annotations

import operator
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxgen.algorithms.base import TrainState
from jaxgen.errors import ConfigError
from jaxgen.run import train

__all__ = ["ClippedSamplesWarning", "Clipped", "Drawn", "draw", "load", "pixels", "sample"]

DATA_RANGE = (-1.0, 1.0)  # where every image data set keeps its pixels


def load(workdir: str | Path, step: int | None = None) -> tuple[train.Run, TrainState]:
  """The run recorded in `workdir` (its `config.json`) and its checkpoint `step` (default: the
  latest), verified against its digest.

  Reads without the workdir's lock and moves nothing, so a run that is still training can be
  loaded. Raises `jaxgen.errors.ConfigError` when `workdir` holds no `config.json` (not a run's
  workdir), `jaxgen.errors.CheckpointError` when the checkpoint is missing or fails its check.
  """
  run = train.Run(train.recorded_config(workdir))
  return run, train.restore_state(run, workdir, step)


class Clipped(NamedTuple):
  """How many of `total` sample values lay outside the data range and were clipped to it
  (`nonfinite` of them NaN/inf, which become the range's low end), and the finite extremes."""

  count: int
  total: int
  nonfinite: int
  low: float
  high: float

  @property
  def fraction(self) -> float:
    """The share of the values that were clipped (0 when there were none)."""
    return self.count / self.total if self.total else 0.0

  def describe(self) -> str:
    """One line: what was clipped, how far it reached."""
    low, high = DATA_RANGE
    line = (
      f"{self.count} of {self.total} sample values ({self.fraction:.2%}) lay outside the data "
      f"range [{low:g}, {high:g}] (from {self.low:.3g} to {self.high:.3g}) and were clipped to it"
    )
    return line + (f"; {self.nonfinite} were NaN/inf" if self.nonfinite else "") + "."


class ClippedSamplesWarning(UserWarning):
  """Generated pixel values lay outside the data range and were clipped (`Clipped.describe`)."""


class Drawn(NamedTuple):
  """Samples in the data's units, and what was clipped to make them (None for points)."""

  samples: np.ndarray
  clipped: Clipped | None


def pixels(images) -> tuple[np.ndarray, Clipped]:
  """Images in the data range [-1, 1] as uint8 in [0, 255], and what lay outside the range."""
  images = np.asarray(images, np.float32)
  low, high = DATA_RANGE
  finite = np.isfinite(images)
  outside = ~finite | (images < low) | (images > high)
  finite_values = images[finite]
  clipped = Clipped(
    count=int(np.count_nonzero(outside)),
    total=images.size,
    nonfinite=int(np.count_nonzero(~finite)),
    low=float(finite_values.min()) if finite_values.size else float("nan"),
    high=float(finite_values.max()) if finite_values.size else float("nan"),
  )
  inside = np.clip(np.where(finite, images, low), low, high)
  return np.round((inside - low) * (255 / (high - low))).astype(np.uint8), clipped


def _positive(name: str, value) -> int:
  try:
    number = operator.index(value)
  except TypeError:
    number = None
  if number is None or isinstance(value, bool) or number < 1:
    raise ConfigError(f"{name} is the number of samples to draw, an integer >= 1; got {value!r}.")
  return number


def draw(run: train.Run, state: TrainState, n: int, seed: int = 0) -> Drawn:
  """`sample`'s samples, and what was clipped to make them, without a warning (the command line
  reports it itself)."""
  n = _positive("n", n)  # before any work
  raw = run.sample(state, n, seed=seed)
  if len(run.dataset.example_shape) != 3:  # points: 1-D or 2-D examples, in their own units
    return Drawn(np.asarray(raw, np.float32), None)
  return Drawn(*pixels(raw))


def sample(run: train.Run, state: TrainState, n: int, seed: int = 0) -> np.ndarray:
  """`n` samples of `run` at `state` in the data's units, the same for the same `seed`.

  Images come back as uint8 [n, H, W, C] in [0, 255]; points (1-D and 2-D data) as float32 [n, d]
  as generated. What is drawn is `Run.sample`'s: a conditional algorithm's sample i has class
  i % num_classes; a translator's (CycleGAN) samples are its translations of held-out images of
  its source domain, picked by `seed`.

  Pixel values outside the data range [-1, 1] (e.g. ProGAN's linear output) are clipped to it
  before the mapping to [0, 255], and a `ClippedSamplesWarning` says how many there were and how
  far they reached; `draw` returns that count instead.
  """
  drawn = draw(run, state, n, seed)
  if drawn.clipped is not None and drawn.clipped.count:
    warnings.warn(drawn.clipped.describe(), ClippedSamplesWarning, stacklevel=2)
  return drawn.samples
