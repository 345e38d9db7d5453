"""Streaming feature statistics (mean and covariance) and their on-disk cache.

FID needs the mean and covariance of tens of thousands of feature vectors. `RunningStatistics`
accumulates them batch by batch in float64, so only one batch of features is in memory at a time:
each batch's own mean and co-moment matrix are merged into the running ones with the pairwise
update of Chan, Golub & LeVeque (1979), which avoids the cancellation of the naive
sum-of-outer-products formula.

Reference statistics of a data set (e.g. the digits training split under the digits classifier) are
cached to `<cache_dir>/<dataset>-<split>-<extractor>.npz`; the key is also stored inside the file
and checked on load. The cache directory is `$JAXGEN_CACHE_DIR/statistics`, by default
`~/.cache/jaxgen/statistics`.
"""

from __future__ import annotations

import os
import pathlib
import re
import tempfile
from collections.abc import Callable

import numpy as np

from jaxgen.metrics._checks import as_matrix

CACHE_ENV_VAR = "JAXGEN_CACHE_DIR"
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.]+$")


class RunningStatistics:
  """Running count, mean and co-moment matrix of feature vectors, in float64.

  Usage::

    stats = RunningStatistics(dim)
    for batch in batches:
      stats.update(features(batch))
    mu, sigma = stats.mean, stats.covariance
  """

  def __init__(self, dim: int):
    if int(dim) != dim or dim < 1:
      raise ValueError(f"dim must be a positive integer; got {dim!r}.")
    self.dim = int(dim)
    self.count = 0
    self._mean = np.zeros(self.dim, np.float64)
    # Sum over samples of (x - mean)(x - mean)^T.
    self._comoment = np.zeros((self.dim, self.dim), np.float64)

  def update(self, features) -> RunningStatistics:
    """Adds a batch of feature vectors [n, dim]; returns self."""
    batch = as_matrix("features", features)
    if batch.shape[1] != self.dim:
      raise ValueError(f"features must have shape [n, {self.dim}]; got {batch.shape}.")
    if batch.shape[0] == 0:
      return self
    mean = batch.mean(axis=0)
    centred = batch - mean
    self._merge(batch.shape[0], mean, centred.T @ centred)
    return self

  def merge(self, other: RunningStatistics) -> RunningStatistics:
    """Adds the samples summarised by `other` (e.g. from another host); returns self."""
    if other.dim != self.dim:
      raise ValueError(f"Cannot merge statistics of dim {other.dim} into dim {self.dim}.")
    if other.count:
      self._merge(other.count, other._mean, other._comoment)
    return self

  def _merge(self, count: int, mean: np.ndarray, comoment: np.ndarray) -> None:
    total = self.count + count
    delta = mean - self._mean
    # Chan, Golub & LeVeque (1979), pairwise update of the mean and the co-moment matrix.
    self._comoment = (
      self._comoment + comoment + np.outer(delta, delta) * (self.count * count / total)
    )
    self._mean = self._mean + delta * (count / total)
    self.count = total

  @property
  def mean(self) -> np.ndarray:
    """The sample mean [dim] (a copy); at least one sample needed."""
    if self.count < 1:
      raise ValueError("The mean needs at least one sample; none was added.")
    return self._mean.copy()

  @property
  def covariance(self) -> np.ndarray:
    """Unbiased sample covariance (divisor n - 1), as `numpy.cov` and pytorch-fid use."""
    if self.count < 2:
      raise ValueError(f"The covariance needs at least two samples; got {self.count}.")
    return self._comoment / (self.count - 1)

  def state(self) -> dict[str, np.ndarray]:
    """{"count", "mean" [dim], "comoment" [dim, dim]}: everything `from_state` restores."""
    return {"count": np.asarray(self.count), "mean": self._mean, "comoment": self._comoment}

  @classmethod
  def from_state(cls, state) -> RunningStatistics:
    """The statistics saved by `state` (e.g. read back from an .npz), in float64."""
    mean = np.asarray(state["mean"], np.float64)
    stats = cls(mean.shape[0])
    stats.count = int(state["count"])
    stats._mean = mean
    stats._comoment = np.asarray(state["comoment"], np.float64)
    return stats


def statistics_of(feature_batches, dim: int | None = None) -> RunningStatistics:
  """RunningStatistics of an iterable of feature batches (or of one [n, d] array)."""
  if isinstance(feature_batches, np.ndarray) or hasattr(feature_batches, "shape"):
    feature_batches = [feature_batches]
  stats = None if dim is None else RunningStatistics(dim)
  for batch in feature_batches:
    batch = np.asarray(batch)
    if stats is None:
      if batch.ndim != 2:
        raise ValueError(f"feature batches must be [n, d]; got shape {batch.shape}.")
      stats = RunningStatistics(batch.shape[1])
    stats.update(batch)
  if stats is None:
    raise ValueError("No feature batch was given and dim is None.")
  return stats


def default_cache_dir() -> pathlib.Path:
  """`$JAXGEN_CACHE_DIR/statistics`, or `~/.cache/jaxgen/statistics` when it is unset."""
  root = os.environ.get(CACHE_ENV_VAR) or pathlib.Path.home() / ".cache" / "jaxgen"
  return pathlib.Path(root) / "statistics"


def cache_path(dataset: str, split: str, extractor: str, cache_dir=None) -> pathlib.Path:
  """`<cache_dir>/<dataset>-<split>-<extractor>.npz`; names limited to letters, digits, '_', '.'."""
  for name, value in (("dataset", dataset), ("split", split), ("extractor", extractor)):
    if not _KEY_PATTERN.match(str(value)):
      raise ValueError(
        f"{name} {value!r} cannot name a cache file: use letters, digits, '_' and '.' only."
      )
  directory = pathlib.Path(cache_dir) if cache_dir is not None else default_cache_dir()
  return directory / f"{dataset}-{split}-{extractor}.npz"


def cached_statistics(
  dataset: str,
  split: str,
  extractor: str,
  compute: Callable[[], RunningStatistics],
  cache_dir=None,
) -> RunningStatistics:
  """Reference statistics keyed by (dataset, split, extractor): loaded if cached, else computed.

  Args:
    dataset, split: which data, e.g. "digits", "train".
    extractor: the feature extractor's identity; include its weights' checksum so new weights
      never reuse old statistics (`FeatureExtractor.name` does).
    compute: called only on a cache miss; returns the RunningStatistics to store.
    cache_dir: directory of the .npz files; default `default_cache_dir()`.
  """
  path = cache_path(dataset, split, extractor, cache_dir)
  key = np.array([dataset, split, extractor])
  if path.exists():
    with np.load(path) as stored:
      if "key" not in stored or list(stored["key"]) != list(key):
        raise ValueError(
          f"Statistics cache {path} does not hold the key {tuple(key)}; delete the file to "
          "recompute it."
        )
      return RunningStatistics.from_state(stored)
  stats = compute()
  if not isinstance(stats, RunningStatistics):
    raise ValueError(f"compute() must return a RunningStatistics; got {type(stats).__name__}.")
  path.parent.mkdir(parents=True, exist_ok=True)
  # Write-then-rename: a crash mid-write never leaves a truncated cache file behind.
  with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as tmp:
    np.savez(tmp, key=key, **stats.state())
  os.replace(tmp.name, path)
  return stats
