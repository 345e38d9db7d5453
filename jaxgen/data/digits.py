"""scikit-learn's bundled handwritten digits: 1797 real 8x8 images, 10 classes, no download.

Pixels are integers 0..16 in the raw data; we map them linearly to [-1, 1] (x / 8 - 1), so the
background (0) becomes -1, the value a tanh generator reaches at its lower end.

The train/test split is fixed and stratified: 360 test images (about 20%) chosen by
`sklearn.model_selection.train_test_split(test_size=360, stratify=labels, random_state=0)`, the rest
(1437) for training. Every class keeps its share in both halves (35 to 37 test images per class).

`size=16` pads each 8x8 image by 4 pixels on every side with the background value -1 (no
interpolation, so the digit's pixels are exactly the raw ones); this gives conv nets room for two
stride-2 stages. Other sizes are rejected.
"""

from __future__ import annotations

import functools

import numpy as np

from jaxgen.data.base import ArrayDataset, declare

SPLITS = ("train", "test")
SIZES = (8, 16)
NUM_CLASSES = 10
NUM_TEST = 360
SPLIT_SEED = 0
# sklearn's digits pixels are counts of on-pixels in 4x4 blocks of a 32x32 bitmap: 0..16.
_RAW_MAX = 16.0


@functools.cache
def _split_arrays() -> dict[str, tuple[np.ndarray, np.ndarray]]:
  # Imported here: scikit-learn is heavy and only this loader needs it.
  from sklearn.datasets import load_digits as sklearn_load_digits
  from sklearn.model_selection import train_test_split

  bunch = sklearn_load_digits()
  images = bunch.images.astype(np.float32)
  labels = bunch.target.astype(np.int32)
  x_train, x_test, y_train, y_test = train_test_split(
    images, labels, test_size=NUM_TEST, stratify=labels, random_state=SPLIT_SEED
  )
  return {"train": (x_train, y_train), "test": (x_test, y_test)}


def check_size(size: int) -> int:
  """`size` if it is one of `SIZES`, else a ValueError listing them."""
  if size not in SIZES:
    raise ValueError(f"Unsupported digits size {size!r}; choose one of {SIZES}.")
  return size


def load_digits(split: str = "train", size: int = 8) -> tuple[np.ndarray, np.ndarray]:
  """Returns (images, labels) of one split of the digits data set.

  Args:
    split: "train" (1437 images) or "test" (360 images); a fixed stratified split.
    size: 8 for the raw images, 16 for the raw images padded by 4 pixels of background (-1).

  Returns:
    images: float32 [N, size, size, 1] in [-1, 1] (raw value v -> v / 8 - 1).
    labels: int32 [N] in 0..9.
  """
  if split not in SPLITS:
    raise ValueError(f"Unknown digits split {split!r}; choose one of {SPLITS}.")
  check_size(size)
  raw, labels = _split_arrays()[split]
  # Linear map of [0, 16] onto [-1, 1].
  images = raw / (_RAW_MAX / 2) - 1.0
  if size == 16:
    pad = (size - 8) // 2
    images = np.pad(images, ((0, 0), (pad, pad), (pad, pad)), constant_values=-1.0)
  return images[..., None].astype(np.float32), labels.copy()


@declare(facts=lambda size=8: ((check_size(size), check_size(size), 1), NUM_CLASSES))
def digits(size: int = 8) -> ArrayDataset:
  """The `digits` data set: 1437 training images, the 360 test images held out; labels 0..9."""
  return ArrayDataset(
    "digits",
    train=load_digits("train", size),
    held_out=load_digits("test", size),
    num_classes=NUM_CLASSES,
  )
