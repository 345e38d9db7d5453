"""What an evaluator is and what the loop hands it: `BaseEvaluator`, `Context` and `EvalData`.

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
  """

  state: Any
  step: int
  algorithm: Any
  sample: Callable[[int], np.ndarray]
  data: EvalData
  picture: Path | None
  num_samples: int

  @property
  def samples(self) -> np.ndarray:
    """`num_samples` samples of the run at `state`."""
    return self.sample(self.num_samples)

  @property
  def title(self) -> str:
    """The picture's title."""
    return f"step {self.step}"
