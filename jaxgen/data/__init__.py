"""Data sets for jaxgen: bundled digits, 1-D and 2-D toy distributions, TFDS image sets, and your
own images (`image_folder`) and arrays (`arrays`).

`get(name, **options)` builds a data set from the registry `DATASETS`; every data set serves
`batch(seed, step, batch_size, process_index=..., process_count=...)`, a pure function of
(seed, step), and `eval_data(num, seed)`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from jaxgen.data import arrays, image_folder, lowdim, mixtures, tfds_source, unpaired
from jaxgen.data.base import ArrayDataset, Batch, Dataset, Declaration, FiniteDataset
from jaxgen.data.digits import digits, load_digits
from jaxgen.data.mixtures import Distribution2D, GaussianMixture, SwissRoll
from jaxgen.data.tfds_source import TfdsImages

DATASETS: dict[str, Callable[..., Dataset]] = {
  "digits": digits,
  "ring8": mixtures.ring8,
  "grid25": mixtures.grid25,
  "swissroll": mixtures.swissroll,
  "gaussian1d": lowdim.gaussian1d,
  "segment": lowdim.segment,
  "mnist": tfds_source.mnist,
  "fashion_mnist": tfds_source.fashion_mnist,
  "cifar10": tfds_source.cifar10,
  "celeb_a": tfds_source.celeb_a,
  "unpaired": unpaired.unpaired,
  "image_folder": image_folder.image_folder,
  "arrays": arrays.arrays,
}


def options(name: str) -> dict[str, object]:
  """The options of data set `name` with their defaults."""
  return {
    option: parameter.default
    for option, parameter in inspect.signature(_factory(name)).parameters.items()
  }


def get(name: str, **kwargs) -> Dataset:
  """Builds the data set `name` with `kwargs` among its `options(name)`."""
  _check_options(name, kwargs)
  return _factory(name)(**kwargs)


class Facts(NamedTuple):
  """What a config check needs of a data set: the shape of one example and the number of label
  values (0: unlabelled)."""

  example_shape: tuple[int, ...]
  num_classes: int


def stand_in_batch(name: str, facts: Facts, batch_size: int) -> dict[str, np.ndarray]:
  """Zeros shaped as one batch of the data set `name` with `facts` (the keys and dtypes its
  `batch` returns): for tracing a model's init in a config check without reading data."""
  declaration = _declaration(name)
  if declaration.stand_in is not None:
    return declaration.stand_in(facts.example_shape, batch_size)
  images = np.zeros((batch_size, *facts.example_shape), np.float32)
  return {"x": images, "y": np.zeros((batch_size,), np.int32)}


def facts(name: str, **kwargs) -> Facts:
  """`Facts` of `get(name, **kwargs)` without reading any data (no TFDS file is opened): for
  checking a config before a run. Option values are checked as far as that needs no data."""
  _check_options(name, kwargs)
  declaration = _declaration(name)
  if declaration.facts is not None:  # declared by the data set (`jaxgen.data.base.declare`)
    example_shape, num_classes = declaration.facts(**{**options(name), **kwargs})
    return Facts(tuple(example_shape), num_classes)
  dataset = get(name, **kwargs)  # the others are built without drawing a sample
  return Facts(tuple(dataset.example_shape), dataset.num_classes)


def _declaration(name: str) -> Declaration:
  return getattr(_factory(name), "declaration", None) or Declaration()


def _check_options(name: str, kwargs) -> None:
  valid = options(name)
  unknown = sorted(set(kwargs) - set(valid))
  if unknown:
    raise ValueError(
      f"Unknown option(s) {unknown} for data set {name!r}; valid options: {sorted(valid)}."
    )


def _factory(name: str) -> Callable[..., Dataset]:
  if name not in DATASETS:
    raise ValueError(f"Unknown data set {name!r}; choose one of {sorted(DATASETS)}.")
  return DATASETS[name]


__all__ = [
  "DATASETS",
  "ArrayDataset",
  "Batch",
  "Dataset",
  "Distribution2D",
  "Facts",
  "FiniteDataset",
  "GaussianMixture",
  "SwissRoll",
  "TfdsImages",
  "facts",
  "get",
  "load_digits",
  "options",
]
