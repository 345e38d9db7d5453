"""The data set interface and the deterministic batch stream shared by every data set.

The batch of step t is a pure function of (seed, t): nothing is stored between calls, so a run
resumed at step t sees exactly the batches of an uninterrupted run. Finite data sets are read as
an endless stream of epochs, epoch e being a permutation of all examples drawn from (seed, e); the
global batch of step t holds stream positions [t * B, (t + 1) * B), and process p of P reads the
contiguous slice [p * B / P, (p + 1) * B / P) of it, so the slices of all processes concatenate to
the single-process batch.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

Batch = dict[str, np.ndarray]

# Random streams are keyed by (purpose, ...) so that no two purposes ever share numbers.
PERMUTATION_STREAM = 0
FRESH_SAMPLES_STREAM = 1
EVAL_STREAM = 2
TRAINING_SET_STREAM = 3


@dataclasses.dataclass(frozen=True)
class Declaration:
  """What a data set factory says about itself without reading data.

  `facts(**options) -> (example_shape, num_classes)`; `stand_in(example_shape, batch_size)`: a
  batch of zeros with the keys and dtypes its `batch` returns (default: "x" and "y").
  """

  facts: Callable[..., tuple[tuple[int, ...], int]] | None = None
  stand_in: Callable[[tuple[int, ...], int], dict[str, np.ndarray]] | None = None


def declare(facts=None, stand_in=None):
  """Decorator: attaches a `Declaration` to a data set factory (`factory.declaration`)."""

  def add(factory):
    factory.declaration = Declaration(facts, stand_in)
    return factory

  return add


@dataclasses.dataclass(frozen=True)
class HandedData:
  """What the loop hands an algorithm about its data, instead of the data set itself.

  `name`, `example_shape` and `num_classes` are the data set's facts; `first_served(n)` returns
  the first `n` training examples the loop serves (its batches for the run's seed, in order), for
  an algorithm that holds a training sample of its own (AdaGAN's S_N).
  """

  name: str
  example_shape: tuple[int, ...]
  num_classes: int
  first_served: Callable[[int], np.ndarray]


def handed_data(dataset: Dataset, seed: int, batch_size: int) -> HandedData:
  """The `HandedData` of `dataset` for a run of `seed` and `batch_size`."""

  def first_served(num: int) -> np.ndarray:
    steps = -(-num // batch_size)
    batches = [dataset.batch(seed, step, batch_size)["x"] for step in range(steps)]
    return np.concatenate(batches)[:num]

  return HandedData(dataset.name, tuple(dataset.example_shape), dataset.num_classes, first_served)


def rng_for(*keys: int) -> np.random.Generator:
  """A NumPy generator seeded by a tuple of non-negative ints (through `np.random.SeedSequence`)."""
  return np.random.default_rng(np.random.SeedSequence(list(keys)))


def check_int(name: str, value: Any, *, minimum: int) -> int:
  """Returns `value` as an int, or raises ValueError naming it when it is not an int >= minimum."""
  try:
    if isinstance(value, bool):  # operator.index accepts True and False as 1 and 0.
      raise TypeError
    number = operator.index(value)
  except TypeError:
    raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.") from None
  if number < minimum:
    raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
  return number


@functools.lru_cache(maxsize=8)
def epoch_permutation(seed: int, epoch: int, num_examples: int) -> np.ndarray:
  """The order in which epoch `epoch` visits the examples; cached, as consecutive steps share it."""
  order = rng_for(PERMUTATION_STREAM, seed, epoch).permutation(num_examples)
  order.flags.writeable = False
  return order


def stream_indices(seed: int, positions: np.ndarray, num_examples: int) -> np.ndarray:
  """Example indices at `positions` of the endless stream of epoch permutations for `seed`."""
  epochs, offsets = np.divmod(positions, num_examples)
  indices = np.empty_like(positions)
  for epoch in np.unique(epochs):
    in_epoch = epochs == epoch
    indices[in_epoch] = epoch_permutation(seed, int(epoch), num_examples)[offsets[in_epoch]]
  return indices


def batch_indices(
  seed: int, step: int, batch_size: int, start: int, stop: int, num_examples: int
) -> np.ndarray:
  """Example indices of rows [start, stop) of global batch `step`: stream positions t * B + row."""
  positions = step * batch_size + np.arange(start, stop, dtype=np.int64)
  return stream_indices(seed, positions, num_examples)


def eval_indices(num: int | None, seed: int, num_examples: int) -> np.ndarray:
  """All indices in stored order when `num` is None, else `num` distinct ones drawn from `seed`."""
  seed = check_int("seed", seed, minimum=0)
  if num is None:
    return np.arange(num_examples)
  num = check_int("num", num, minimum=1)
  if num > num_examples:
    raise ValueError(f"num must be at most the {num_examples} held-out examples; got {num}.")
  return rng_for(EVAL_STREAM, seed).permutation(num_examples)[:num]


class Dataset(abc.ABC):
  """A data set the training loop reads by (seed, step).

  Attributes:
    name: the registry name.
    example_shape: shape of one example, (2,) for 2-D data, (H, W, C) for images.
    num_classes: number of label values, 0 when the data set is unlabelled (then "y" is all 0).
  """

  name: str
  example_shape: tuple[int, ...]
  num_classes: int

  def batch(
    self,
    seed: int,
    step: int,
    batch_size: int,
    *,
    process_index: int = 0,
    process_count: int = 1,
  ) -> Batch:
    """This process's slice of the global batch of `step`.

    Args:
      seed: non-negative int; the same (seed, step) always gives the same arrays.
      step: non-negative training step.
      batch_size: the global batch size, divisible by `process_count`.
      process_index: this process, 0 <= process_index < process_count.
      process_count: number of processes sharing the global batch.

    Returns:
      A dict: "x", float32 [batch_size // process_count, *example_shape]; "y", int32
      [batch_size // process_count].
    """
    seed = check_int("seed", seed, minimum=0)
    step = check_int("step", step, minimum=0)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    process_count = check_int("process_count", process_count, minimum=1)
    process_index = check_int("process_index", process_index, minimum=0)
    if process_index >= process_count:
      raise ValueError(
        f"process_index must lie in [0, {process_count}) for process_count={process_count}; "
        f"got {process_index}."
      )
    if batch_size % process_count:
      raise ValueError(
        f"batch_size {batch_size} is not divisible by process_count {process_count}."
      )
    local_size = batch_size // process_count
    start = process_index * local_size
    return self._rows(seed, step, batch_size, start, start + local_size)

  @abc.abstractmethod
  def _rows(self, seed: int, step: int, batch_size: int, start: int, stop: int) -> Batch:
    """Rows [start, stop) of the global batch of `step` (arguments already validated)."""

  @abc.abstractmethod
  def eval_data(self, num: int | None = None, seed: int = 0) -> Batch:
    """Held-out data for evaluation, the same arrays for the same (num, seed)."""

  def __repr__(self) -> str:
    return (
      f"{type(self).__name__}(name={self.name!r}, example_shape={self.example_shape}, "
      f"num_classes={self.num_classes})"
    )


class FiniteDataset(Dataset):
  """A data set with a fixed list of training examples read in epoch-wise permutations."""

  @property
  @abc.abstractmethod
  def num_examples(self) -> int:
    """Number of training examples (one epoch)."""

  @abc.abstractmethod
  def _training_examples(self, indices: np.ndarray) -> Batch:
    """The training examples at `indices`, in that order."""

  def _rows(self, seed: int, step: int, batch_size: int, start: int, stop: int) -> Batch:
    indices = batch_indices(seed, step, batch_size, start, stop, self.num_examples)
    return self._training_examples(indices)


class ArrayDataset(FiniteDataset):
  """A finite data set held in memory: training arrays plus a held-out split."""

  def __init__(
    self,
    name: str,
    train: tuple[np.ndarray, np.ndarray],
    held_out: tuple[np.ndarray, np.ndarray],
    num_classes: int,
  ):
    self.name = name
    self.example_shape = tuple(train[0].shape[1:])
    self.num_classes = num_classes
    self._train = train
    self._held_out = held_out

  @property
  def num_examples(self) -> int:
    """Number of training examples (one epoch): the rows of the training arrays."""
    return len(self._train[0])

  def _training_examples(self, indices: np.ndarray) -> Batch:
    images, labels = self._train
    return {"x": images[indices], "y": labels[indices]}

  def eval_data(self, num: int | None = None, seed: int = 0) -> Batch:
    """The held-out split: all of it in stored order, or `num` examples drawn from `seed`."""
    images, labels = self._held_out
    indices = eval_indices(num, seed, len(images))
    return {"x": images[indices], "y": labels[indices]}
