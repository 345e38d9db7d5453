"""Metrics for generative models: FID, KID, Inception Score, precision/recall, mode coverage.

On images, one call each (the features by a named extractor, the digits classifier by default):
  fid(images_a, images_b, extractor="digits") -> Score (value, extractor, feature_dim, counts)
  kid(images_a, images_b, extractor="digits") -> Score (with std over KID's subsets)
  precision_recall(real_images, fake_images, k=3, extractor=None) -> {"precision", "recall"}

On features and statistics:
  frechet_distance(mu1, sigma1, mu2, sigma2) -> float
  inception_score(logits, num_splits=10) -> (mean, std)
  kernel_inception_distance(features_a, features_b, num_subsets=100, subset_size=None, seed=0)
      -> (mean, std)
  precision_recall(real_features, fake_features, k=3) -> {"precision", "recall"} (the same function)
  mode_coverage(samples, centers, std) -> {"modes", "high_quality", "reverse_kl"}
  RunningStatistics, statistics_of, cached_statistics: streaming mean/covariance and their cache
  load_digits_classifier(), load_classifier(path), load_fid_inception(path): feature extractors
  get_extractor(name, weights), ImageEvaluator, digits_fid_bounds, streaming_statistics,
  reference_statistics: evaluation in one call

`fid`, `kid` and `precision_recall` are functions here although `fid.py`, `kid.py` and
`precision_recall.py` are modules of this package: the modules are imported above the functions'
definitions, so the functions replace them as attributes of the package for good (a module already
imported is not set on its package again).
`from jaxgen.metrics.fid import frechet_distance` still reads the module; write that form, not
`import jaxgen.metrics.fid as ...`, which would give the function.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools

import numpy as np

from jaxgen.errors import ConfigError
from jaxgen.metrics.ais import ais_log_likelihood
from jaxgen.metrics.classifier import Classifier, load_classifier, load_digits_classifier
from jaxgen.metrics.evaluator import (
  EXTRACTORS,
  ImageEvaluator,
  digits_fid_bounds,
  extract,
  get_extractor,
  reference_statistics,
  streaming_statistics,
)
from jaxgen.metrics.fid import frechet_distance
from jaxgen.metrics.geometry_score import geometry_score_of
from jaxgen.metrics.inception import FIDInceptionV3, load_fid_inception
from jaxgen.metrics.inception_score import inception_score
from jaxgen.metrics.kid import kernel_inception_distance
from jaxgen.metrics.mode_coverage import mode_coverage, mode_histogram, mode_histograms
from jaxgen.metrics.ms_ssim import msssim_diversity
from jaxgen.metrics.precision_recall import precision_recall as features_precision_recall
from jaxgen.metrics.skill_rating import glicko2_update, rating_period
from jaxgen.metrics.statistics import RunningStatistics, cached_statistics, statistics_of

__all__ = [
  "EXTRACTORS",
  "Classifier",
  "FIDInceptionV3",
  "ImageEvaluator",
  "RunningStatistics",
  "Score",
  "ais_log_likelihood",
  "cached_statistics",
  "digits_fid_bounds",
  "extract",
  "fid",
  "frechet_distance",
  "geometry_score_of",
  "get_extractor",
  "glicko2_update",
  "inception_score",
  "kernel_inception_distance",
  "kid",
  "load_classifier",
  "load_digits_classifier",
  "load_fid_inception",
  "mode_coverage",
  "mode_histogram",
  "mode_histograms",
  "msssim_diversity",
  "precision_recall",
  "rating_period",
  "reference_statistics",
  "statistics_of",
  "streaming_statistics",
]


# --- one call on images -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Score:
  """A metric between two sets of images and what it was measured in: the feature extractor's
  name (with its weights' checksum, e.g. "digits_cnn.3f1c..."), the feature dimension and the two
  set sizes; `std`: KID's spread over its subsets (None for FID). `float(score)` is `value`, and
  a format spec formats it (`f"{score:.2f}"`)."""

  metric: str
  value: float
  extractor: str
  feature_dim: int
  num_a: int
  num_b: int
  std: float | None = None

  def __float__(self) -> float:
    return self.value

  def __format__(self, spec: str) -> str:
    return format(self.value, spec) if spec else str(self)

  def __str__(self) -> str:
    spread = "" if self.std is None else f" +- {self.std:.4g}"
    return (
      f"{self.metric} = {self.value:.4g}{spread} ({self.extractor} features, {self.feature_dim}-d;"
      f" {self.num_a} vs {self.num_b} images)"
    )


def _short(name: str) -> str:
  """An extractor's short name: "digits" for "digits_classifier", "inception" for
  "fid_inception"."""
  return name.removesuffix("_classifier").removeprefix("fid_")


@functools.lru_cache(maxsize=4)
def _extractor(name: str, weights: str | None):
  """The extractor `name` (a key of `EXTRACTORS` or its short name) with `weights`, loaded once."""
  full = name if name in EXTRACTORS else {_short(k): k for k in EXTRACTORS}.get(name)
  if full is None:
    raise ConfigError(
      f"extractor={name!r} is not a feature extractor; choose one of "
      f"{', '.join(_short(k) for k in EXTRACTORS)} (or {', '.join(EXTRACTORS)})."
    )
  return get_extractor(full, weights)


@contextlib.contextmanager
def _one_line_errors(metric: str):
  """A bad input's error as a `ConfigError` of one line that names the metric."""
  try:
    yield
  except ConfigError:
    raise
  except (ValueError, FileNotFoundError) as error:
    raise ConfigError(f"{metric}: {' '.join(str(error).split())}") from None


def _model_input(name: str, images) -> np.ndarray:
  """`images` [N, H, W, C] as float32 in the data range [-1, 1]: uint8 mapped from [0, 255],
  floats taken as they are (in the data's range already)."""
  images = np.asarray(images)
  if images.ndim != 4:
    raise ConfigError(
      f"{name} must be images [N, H, W, C]; got shape {images.shape} (for features [N, d] use "
      "frechet_distance, kernel_inception_distance or precision_recall)."
    )
  if images.dtype == np.uint8:
    return images.astype(np.float32) / 127.5 - 1.0
  if not np.issubdtype(images.dtype, np.floating):
    raise ConfigError(
      f"{name} must be uint8 in [0, 255] or floats in [-1, 1]; got dtype {images.dtype}."
    )
  return images.astype(np.float32)


def _features(images_a, images_b, extractor: str, weights: str | None):
  """(features of a, features of b, the extractor) for a metric on images."""
  net = _extractor(extractor, None if weights is None else str(weights))
  features_a, _ = extract(net, _model_input("images_a", images_a))
  features_b, _ = extract(net, _model_input("images_b", images_b))
  return features_a, features_b, net


def fid(images_a, images_b, extractor: str = "digits", weights: str | None = None) -> Score:
  """FID (Heusel et al. 2017) between two sets of images, in the features of `extractor`.

  Args:
    images_a, images_b: images [N, H, W, C], uint8 in [0, 255] or floats in the data range
      [-1, 1] (what `jaxgen.sample` and `jaxgen.data` give); the two sets may differ in size.
    extractor: "digits" (the shipped digits classifier, 8x8 or 16x16 grey digits), "mnist",
      "fashion_mnist" (classifiers written by scripts/train_classifier.py: `weights` required) or
      "inception" (the FID Inception-v3: `weights`, a converted pytorch-fid file, required; see
      `get_extractor`); the full names of `EXTRACTORS` work too.
    weights: the extractor's weights file, where it needs one.

  Returns:
    A `Score` (metric "FID"): the value, the extractor's name and feature dimension, the counts.
    FID is biased by the sample size: compare values of equal counts only.
  """
  with _one_line_errors("fid"):
    features_a, features_b, net = _features(images_a, images_b, extractor, weights)
    a, b = statistics_of(features_a), statistics_of(features_b)
    value = frechet_distance(a.mean, a.covariance, b.mean, b.covariance)
  return Score("FID", value, net.name, net.feature_dim, len(features_a), len(features_b))


def kid(
  images_a,
  images_b,
  extractor: str = "digits",
  weights: str | None = None,
  num_subsets: int = 100,
  subset_size: int | None = None,
  seed: int = 0,
) -> Score:
  """KID (Binkowski et al. 2018) between two sets of images: `kernel_inception_distance` of
  their features; the arguments as `fid`'s and `kernel_inception_distance`'s. Returns a `Score`
  (metric "KID") whose `std` is the spread over the subsets."""
  with _one_line_errors("kid"):
    features_a, features_b, net = _features(images_a, images_b, extractor, weights)
    mean, std = kernel_inception_distance(features_a, features_b, num_subsets, subset_size, seed)
  return Score("KID", mean, net.name, net.feature_dim, len(features_a), len(features_b), std)


def precision_recall(
  real, fake, k: int = 3, extractor: str | None = None, weights: str | None = None
) -> dict:
  """Improved precision and recall (Kynkäänniemi et al. 2019) of `fake` against `real`.

  `real`, `fake`: images [N, H, W, C] (as `fid` takes them; their features by `extractor`, the
  digits classifier when None), or features [N, d], used as they are (then no extractor).
  Returns {"precision", "recall"}: floats in [0, 1] for features, a `Score` each for images.
  """
  with _one_line_errors("precision_recall"):
    if np.ndim(real) == 2 and np.ndim(fake) == 2:
      if extractor is not None:
        raise ConfigError(
          f"precision_recall got features [N, d]; extractor={extractor!r} reads "
          "images [N, H, W, C]: leave it out, or pass images."
        )
      return features_precision_recall(real, fake, k)
    real_features, fake_features, net = _features(real, fake, extractor or "digits", weights)
    scores = features_precision_recall(real_features, fake_features, k)
  counts = (net.name, net.feature_dim, len(real_features), len(fake_features))
  return {key: Score(key, value, *counts) for key, value in scores.items()}
