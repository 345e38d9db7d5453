"""What an evaluator is and what the loop hands it: `BaseEvaluator`, `Context`, `EvalData`, and
`FeatureSpace`, where an evaluator's feature-based metrics (FID and the like) were measured.

An evaluator is built once per run, `cls(config, options)` (`options`: the values of its declared
`OPTIONS`), and called at each evaluation with a `Context`; it returns a flat dict of scalar
metrics, which the loop logs as `eval/<key>`. It never sees the data set: `Context.data` holds the
data's held-out and training arrays and the facts the evaluator declares (`DATA_FACTS`).
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from jaxgen.algorithms.base import AlgorithmBase
from jaxgen.options import Option


class BaseEvaluator(abc.ABC):
  """An evaluator: a subclass registered with `jaxgen.evaluators.register_evaluator(name)`.

  It declares `OPTIONS`, the options its entry of `config.eval.evaluators` may set
  (`jaxgen.options.Option`), and `DATA_FACTS`, the attributes of the data set it reads (e.g. a
  mixture's "centers"; `Context.data.facts` holds those the data set has), and may refuse a
  config it cannot score (`check`).
  """

  OPTIONS: tuple[Option, ...] = ()
  DATA_FACTS: tuple[str, ...] = ()
  # True for an evaluator that rates every kept checkpoint of a run in one go (a tournament):
  # `jaxgen eval` hands it the checkpoints rather than one state.
  RATES_CHECKPOINTS: bool = False

  def __init__(self, config, options: types.SimpleNamespace):
    """`config`: the run's config (e.g. `eval.extractor`); `options`: its declared options."""
    self.config, self.options = config, options

  @classmethod
  def check(cls, options: types.SimpleNamespace, algorithm, facts) -> None:
    """Raises ValueError when the evaluator cannot score `algorithm` (a class or an instance) on
    data with `facts` (`example_shape`, `num_classes`); nothing is read or built."""
    del options, algorithm, facts

  @abc.abstractmethod
  def __call__(self, context: Context) -> dict[str, float]:
    """The metrics of `context.state`, a flat dict of scalars; draws at `context.picture`."""

  def feature_space(self) -> FeatureSpace | None:
    """Where the last call measured its feature-based metrics (None: it measured none), so that
    every FID is printed and saved with the extractor it was computed with."""
    return None


@dataclasses.dataclass(frozen=True)
class FeatureSpace:
  """The features an evaluator's metrics `metrics` were computed on. Such metrics compare only
  between runs scored in the same space: a FID on the digits classifier's 128-d features is not
  an Inception FID, and a FID's bias depends on the number of images.

  Attributes:
    extractor: the feature extractor's name (`eval.extractor`, `jaxgen.metrics.EXTRACTORS`).
    feature_dim: the dimension of its features.
    num_samples: generated images scored.
    num_reference: real images they are compared with.
    metrics: the metric keys (as the evaluator returns them) computed on these features.
  """

  extractor: str
  feature_dim: int
  num_samples: int
  num_reference: int
  metrics: tuple[str, ...]

  def describe(self) -> str:
    """E.g. "digits_classifier (128-d features), 1000 generated vs 10000 real images"."""
    return (
      f"{self.extractor} ({self.feature_dim}-d features), {self.num_samples} generated vs "
      f"{self.num_reference} real images"
    )

  def record(self) -> dict[str, Any]:
    """The fields a record of scores (evaluation.json) carries beside them."""
    fields = dataclasses.asdict(self)
    del fields["metrics"]
    return fields


def algorithm_class(algorithm) -> type | None:
  """The class of `algorithm`, handed to `BaseEvaluator.check` as a class or an instance; None
  for a registered factory (e.g. "wae", which builds WAE-MMD or WAE-GAN by the config): what it
  builds is known, and checked, once the run has built it."""
  if isinstance(algorithm, type):
    return algorithm
  return type(algorithm) if isinstance(algorithm, AlgorithmBase) else None


def per_example(function: Callable[..., Any], batch_size: int, *arrays: np.ndarray) -> np.ndarray:
  """`function(*batches)` -> [batch, ...] values, over `arrays` split along their first axis
  into batches of `batch_size` (fewer examples: one batch of them all; the last batch padded with
  its last example, so a jitted `function` compiles for one shape), concatenated: one value per
  example, float64."""
  count = len(arrays[0])
  batch_size = min(batch_size, count)
  values = []
  for start in range(0, count, batch_size):
    size = min(batch_size, count - start)
    batches = [a[start : start + size] for a in arrays]
    padded = [np.concatenate([b, np.repeat(b[-1:], batch_size - size, axis=0)]) for b in batches]
    values.append(np.asarray(function(*padded), np.float64)[:size])
  return np.concatenate(values)


class EvalData:
  """The data an evaluator reads, never the data set itself: its held-out arrays (`num`
  examples drawn from `seed`), its first training examples (a metric's reference) and the facts
  `DATA_FACTS` names; each array is read once, on first use."""

  def __init__(self, dataset, num: int, seed: int, facts: Iterable[str] = ()):
    """`dataset`'s arrays, read when asked for; `facts`: the attributes of it to hand on."""
    self._dataset, self.num, self.seed = dataset, num, seed
    missing = object()
    found = {name: getattr(dataset, name, missing) for name in facts}
    self.facts = {name: value for name, value in found.items() if value is not missing}
    self._training: dict[int, dict[str, np.ndarray]] = {}

  @functools.cached_property
  def held_out(self) -> dict[str, np.ndarray]:
    """The data set's held-out arrays (`eval_data(num, seed)`): never trained on."""
    return self._dataset.eval_data(self.num, seed=self.seed)

  @functools.cached_property
  def every_held_out(self) -> dict[str, np.ndarray]:
    """All of the data set's held-out arrays (`eval_data(None, seed)`), however many
    `eval.num_samples` asks of the samples: a likelihood is measured on the whole held-out set."""
    return self._dataset.eval_data(None, seed=self.seed)

  def training(self, limit: int) -> dict[str, np.ndarray]:
    """The first `limit` training examples (all when there are fewer): seed 0's first epoch."""
    if limit not in self._training:
      count = min(limit, getattr(self._dataset, "num_examples", limit))
      self._training[limit] = self._dataset.batch(0, 0, count)
    return self._training[limit]


@dataclasses.dataclass(frozen=True)
class Context:
  """What the loop hands an evaluator at one evaluation.

  Attributes:
    state: the `TrainState` evaluated, at step `step`.
    step: the steps done.
    algorithm: the run's algorithm (e.g. CycleGAN's `translate`, `num_classes`).
    sample: num -> `num` samples of the run's sampler at `state` (numpy); the same draws for
      every evaluator of this evaluation (computed once).
    data: the data's arrays and facts (`EvalData`).
    picture: where this evaluator draws its picture (a PNG path), None: draw nothing.
    num_samples: `config.eval.num_samples`, how many samples the metrics score.
    heading: what the picture's title says first: the run's name, algorithm, objective and data
      (`jaxgen.run.plots.run_title`); "": nothing.
  """

  state: Any
  step: int
  algorithm: Any
  sample: Callable[[int], np.ndarray]
  data: EvalData
  picture: Path | None
  num_samples: int
  heading: str = ""

  @property
  def samples(self) -> np.ndarray:
    """`num_samples` samples of the run at `state`."""
    return self.sample(self.num_samples)

  @property
  def title(self) -> str:
    """The picture's title: the heading, then the step."""
    return f"{self.heading}\nstep {self.step}" if self.heading else f"step {self.step}"
