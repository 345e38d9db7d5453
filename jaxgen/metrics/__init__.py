"""Metrics for generative models: FID, KID, Inception Score, precision/recall, mode coverage.

Public API:
  frechet_distance(mu1, sigma1, mu2, sigma2) -> float
  inception_score(logits, num_splits=10) -> (mean, std)
  kernel_inception_distance(features_a, features_b, num_subsets=100, subset_size=None, seed=0)
      -> (mean, std)
  precision_recall(real_features, fake_features, k=3) -> {"precision", "recall"}
  mode_coverage(samples, centers, std) -> {"modes", "high_quality", "reverse_kl"}
  RunningStatistics, statistics_of, cached_statistics: streaming mean/covariance and their cache
  load_digits_classifier(), load_classifier(path), load_fid_inception(path): feature extractors
  get_extractor(name, weights), ImageEvaluator, digits_fid_bounds, streaming_statistics,
  reference_statistics: evaluation in one call
"""

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
from jaxgen.metrics.inception import FIDInceptionV3, load_fid_inception
from jaxgen.metrics.inception_score import inception_score
from jaxgen.metrics.kid import kernel_inception_distance
from jaxgen.metrics.mode_coverage import mode_coverage, mode_histogram, mode_histograms
from jaxgen.metrics.precision_recall import precision_recall
from jaxgen.metrics.statistics import RunningStatistics, cached_statistics, statistics_of

__all__ = [
  "EXTRACTORS",
  "Classifier",
  "FIDInceptionV3",
  "ImageEvaluator",
  "RunningStatistics",
  "cached_statistics",
  "digits_fid_bounds",
  "extract",
  "frechet_distance",
  "get_extractor",
  "inception_score",
  "kernel_inception_distance",
  "load_classifier",
  "load_digits_classifier",
  "load_fid_inception",
  "mode_coverage",
  "mode_histogram",
  "mode_histograms",
  "precision_recall",
  "reference_statistics",
  "statistics_of",
  "streaming_statistics",
]
