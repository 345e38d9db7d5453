"""Training algorithms: each names its players, their gradient functions and its schedule."""

import importlib
import pkgutil

from jaxgen.algorithms.base import (
  ALGORITHMS,
  AlgorithmBase,
  Evaluation,
  Player,
  PlayerState,
  TrainState,
  apply_module,
  init_train_state,
  make_train_step,
)
from jaxgen.algorithms.gan import GAN

# Every module of this package is imported, so an algorithm registers itself (`base.register`)
# where it is written; a new file needs no line here.
for _module in pkgutil.iter_modules(__path__):
  importlib.import_module(f"{__name__}.{_module.name}")


def get(name: str):
  """The algorithm called `name` (`config.algorithm.name`); the error lists the valid names."""
  if name not in ALGORITHMS:
    raise ValueError(f"Unknown algorithm {name!r}; choose one of {sorted(ALGORITHMS)}.")
  return ALGORITHMS[name]


__all__ = [
  "ALGORITHMS",
  "GAN",
  "AlgorithmBase",
  "Evaluation",
  "Player",
  "PlayerState",
  "TrainState",
  "apply_module",
  "get",
  "init_train_state",
  "make_train_step",
]
