"""Feature extractors by name, batched feature extraction, and every image metric in one call.

`ImageEvaluator(extractor, real_images)` extracts the real features once; calling it on generated
images returns FID, KID, Inception Score, precision and recall. The "images" evaluator
(`jaxgen.evaluators.images`) scores a run's samples with it, in the loop and in
`scripts/evaluate.py`.

Extractors (`EXTRACTORS`, `get_extractor(name, weights)`):
- "digits_classifier": the shipped digits CNN (or `weights`, a checkpoint of the same kind);
- "mnist_classifier", "fashion_mnist_classifier": a CNN checkpoint written by
  `scripts/train_classifier.py --dataset=... --out=PATH` (`weights` = PATH, required);
- "fid_inception": the FID Inception-v3 from a user-supplied weights file (`weights`, required).
Each has `name` (for statistics caches), `feature_dim`, `num_classes`, and `features_and_logits`.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Iterable
from typing import Protocol

import numpy as np

from jaxgen.metrics import inception
from jaxgen.metrics.classifier import (
  Classifier,
  checksum_path,
  load_classifier,
  load_digits_classifier,
  regenerate_command,
)
from jaxgen.metrics.fid import frechet_distance
from jaxgen.metrics.inception import load_fid_inception
from jaxgen.metrics.inception_score import inception_score
from jaxgen.metrics.kid import kernel_inception_distance
from jaxgen.metrics.precision_recall import precision_recall
from jaxgen.metrics.statistics import RunningStatistics, cached_statistics, statistics_of


class FeatureExtractor(Protocol):
  """What the metrics need of a feature extractor (a classifier or the FID Inception)."""

  name: str
  feature_dim: int
  num_classes: int

  def features_and_logits(self, images):
    """(features [N, feature_dim], logits [N, num_classes]) of images [N, H, W, C] in [-1, 1]."""


def _classifier_loader(dataset: str) -> Callable[[str | None], Classifier]:
  """The loader of the `dataset` classifier that scripts/train_classifier.py writes."""

  def load(weights: str | None) -> Classifier:
    """The classifier in the file `weights` (required: none is shipped)."""
    if weights is None:
      raise ValueError(
        f"The {dataset} classifier needs weights=PATH; write them with "
        f"`python scripts/train_classifier.py --dataset={dataset} --out=PATH`."
      )
    return load_classifier(weights, dataset)

  return load


EXTRACTORS: dict[str, Callable[[str | None], FeatureExtractor]] = {
  "digits_classifier": lambda weights: (
    load_digits_classifier() if weights is None else load_classifier(weights, "digits")
  ),
  "mnist_classifier": _classifier_loader("mnist"),
  "fashion_mnist_classifier": _classifier_loader("fashion_mnist"),
  "fid_inception": load_fid_inception,
}


# Facts a config check reads before any weights load (`jaxgen.run.config_check`). A classifier takes
# images of the size scripts/train_classifier.py trains it at (the digits one also 8x8 digits, which
# `Classifier.prepare` pads); the FID Inception resizes any size, grey or colour (`preprocess`).
SHIPPED_EXTRACTORS = ("digits_classifier",)
CLASSIFIER_INPUTS = {
  "digits_classifier": ("digits", ((16, 16, 1), (8, 8, 1))),
  "mnist_classifier": ("mnist", ((28, 28, 1),)),
  "fashion_mnist_classifier": ("fashion_mnist", ((28, 28, 1),)),
}
# ImageEvaluator's defaults, and the fewest images they score: the Inception Score needs an image
# per split, precision/recall k + 1 of each kind (KID needs 2).
IS_SPLITS, PR_K = 10, 3
MIN_FAKE_IMAGES, MIN_REAL_IMAGES = max(IS_SPLITS, PR_K + 1, 2), max(PR_K + 1, 2)


def check_extractor_weights(name: str, weights: str | None) -> None:
  """Raises unless extractor `name` will find weights: its shipped ones (`weights` empty) or the
  file `weights` (with its .sha256 beside a classifier's). Reads no weights."""
  if name in CLASSIFIER_INPUTS:
    dataset = CLASSIFIER_INPUTS[name][0]
    how = f"write them with `{regenerate_command(dataset, weights or 'PATH')}`"
  else:
    how = f"download {inception.WEIGHTS_URL} and convert it with `{inception.CONVERT_COMMAND}`"
  if not weights:
    if name in SHIPPED_EXTRACTORS:
      return
    raise ValueError(f"the {name} extractor ships no weights and needs a weights file; {how}.")
  files = [pathlib.Path(weights)]
  if name in CLASSIFIER_INPUTS:
    files.append(checksum_path(weights))
  elif files[0].suffix not in (".npz", ".msgpack"):
    raise ValueError(f"the {name} extractor reads a .npz or .msgpack file; {how}.")
  missing = [str(path) for path in files if not path.is_file()]
  if missing:
    raise FileNotFoundError(f"the {name} extractor's weights need {missing}, missing; {how}.")


def check_extractor_input(name: str, example_shape) -> None:
  """Raises ValueError unless extractor `name` takes examples of `example_shape` (H, W, C)."""
  shape = tuple(example_shape)
  if name in CLASSIFIER_INPUTS:
    accepted = CLASSIFIER_INPUTS[name][1]
    takes, fits = f"images (H, W, C) in {sorted(accepted)}", shape in accepted
  else:
    takes = "images (H, W, C) of any size with C = 1 or 3"
    fits = len(shape) == 3 and shape[-1] in (1, 3)
  if not fits:
    raise ValueError(f"the {name} extractor takes {takes}; the data's examples have shape {shape}.")


def get_extractor(name: str, weights: str | None = None) -> FeatureExtractor:
  """The feature extractor `name`, loading `weights` where it needs a file."""
  if name not in EXTRACTORS:
    raise ValueError(f"Unknown feature extractor {name!r}; choose one of {sorted(EXTRACTORS)}.")
  return EXTRACTORS[name](weights)


def batched_features(extractor: FeatureExtractor, images, batch_size: int = 256):
  """Yields (features, logits) as float64 NumPy arrays, `batch_size` images at a time.

  The last batch is padded up to `batch_size` (and the padding dropped from the output), so the
  jitted extractor compiles for a single shape.
  """
  if int(batch_size) != batch_size or batch_size < 1:
    raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
  images = np.asarray(images, np.float32)
  for start in range(0, images.shape[0], batch_size):
    batch = images[start : start + batch_size]
    size = batch.shape[0]
    if size < batch_size:
      batch = np.concatenate([batch, np.repeat(batch[-1:], batch_size - size, axis=0)])
    features, logits = extractor.features_and_logits(batch)
    yield np.asarray(features, np.float64)[:size], np.asarray(logits, np.float64)[:size]


def extract(extractor: FeatureExtractor, images, batch_size: int = 256):
  """(features [N, d], logits [N, C]) of all `images`, float64."""
  pieces = list(batched_features(extractor, images, batch_size))
  if not pieces:
    raise ValueError("No images to extract features from.")
  return np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces])


def streaming_statistics(extractor: FeatureExtractor, image_batches) -> RunningStatistics:
  """Feature mean/covariance over an iterable of image batches; one batch in memory at a time."""
  stats = RunningStatistics(extractor.feature_dim)
  for images in image_batches:
    for features, _ in batched_features(extractor, images):
      stats.update(features)
  return stats


def reference_statistics(
  extractor: FeatureExtractor,
  dataset: str,
  split: str,
  image_batches: Callable[[], Iterable],
  cache_dir=None,
) -> RunningStatistics:
  """Statistics of a data split under `extractor`, cached by (dataset, split, extractor.name).

  `image_batches()` returns an iterable of image batches; it is only called on a cache miss.
  """
  return cached_statistics(
    dataset,
    split,
    extractor.name,
    lambda: streaming_statistics(extractor, image_batches()),
    cache_dir,
  )


class ImageEvaluator:
  """Scores generated images against fixed real images with one feature extractor.

  Args:
    extractor: e.g. `get_extractor("digits_classifier")`.
    real_images: real images [N, H, W, C] in [-1, 1]; their features are extracted once.
    reference_statistics: optional RunningStatistics for FID (e.g. a cached full training split);
      by default the statistics of `real_images`.
    kid_subsets, kid_subset_size, seed: `kernel_inception_distance` settings.
    pr_k: neighbourhood size of precision/recall; is_splits: Inception Score splits.
  """

  def __init__(
    self,
    extractor: FeatureExtractor,
    real_images,
    *,
    reference_statistics: RunningStatistics | None = None,
    kid_subsets: int = 100,
    kid_subset_size: int | None = None,
    pr_k: int = PR_K,
    is_splits: int = IS_SPLITS,
    batch_size: int = 256,
    seed: int = 0,
  ):
    """Extracts the features of `real_images` (see the class docstring)."""
    self.extractor = extractor
    self.batch_size = batch_size
    self.real_features, _ = extract(extractor, real_images, batch_size)
    self.reference = reference_statistics or statistics_of(self.real_features)
    self.kid_subsets, self.kid_subset_size, self.seed = kid_subsets, kid_subset_size, seed
    self.pr_k, self.is_splits = pr_k, is_splits

  def __call__(self, fake_images) -> dict[str, float]:
    """Scores `fake_images`: {"fid", "kid", "kid_std", "inception_score",
    "inception_score_std", "precision", "recall"}."""
    features, logits = extract(self.extractor, fake_images, self.batch_size)
    fake = statistics_of(features)
    kid, kid_std = kernel_inception_distance(
      self.real_features, features, self.kid_subsets, self.kid_subset_size, self.seed
    )
    score, score_std = inception_score(logits, self.is_splits)
    return {
      "fid": frechet_distance(
        self.reference.mean, self.reference.covariance, fake.mean, fake.covariance
      ),
      "kid": kid,
      "kid_std": kid_std,
      "inception_score": score,
      "inception_score_std": score_std,
      **precision_recall(self.real_features, features, self.pr_k),
    }


def digits_fid_bounds(extractor: FeatureExtractor | None = None, seed: int = 0) -> dict[str, float]:
  """FID and KID of the digits training split against its test split (the floor a perfect model
  reaches with this many samples) and against uniform noise in [-1, 1] (a ceiling), one noise image
  per test image: 8x8 noise (padded to 16x16 by the classifier, like real digits) and 16x16 noise.
  """
  # Imported here: jaxgen.data pulls in tensorflow-datasets, which the metrics need nowhere else.
  from jaxgen.data import load_digits

  extractor = extractor or load_digits_classifier()
  train_features, _ = extract(extractor, load_digits("train", 16)[0])
  train = statistics_of(train_features)
  rng = np.random.default_rng(seed)
  test_images = load_digits("test", 16)[0]
  num_test = test_images.shape[0]
  candidates = {
    "test": test_images,
    "noise8": rng.uniform(-1.0, 1.0, (num_test, 8, 8, 1)),
    "noise16": rng.uniform(-1.0, 1.0, (num_test, 16, 16, 1)),
  }
  bounds = {}
  for name, images in candidates.items():
    features, _ = extract(extractor, images)
    other = statistics_of(features)
    bounds[f"fid_train_{name}"] = frechet_distance(
      train.mean, train.covariance, other.mean, other.covariance
    )
    kid, kid_std = kernel_inception_distance(train_features, features, seed=seed)
    bounds[f"kid_train_{name}"], bounds[f"kid_std_train_{name}"] = kid, kid_std
  return bounds
