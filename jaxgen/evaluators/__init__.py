"""Evaluators by name, one file each (as big_vision's): what each evaluation scores and draws.

    config.eval.evaluators = ("images",)                               # names
    config.eval.evaluators = ({"name": "images", "grid_count": 16},)   # a name and its options

Shipped: "points" (`points.py`: a scatter plot or histogram, and the mode coverage of a mixture),
"images" (`images.py`: a grid of samples, and FID, KID, IS, precision and recall with
`eval.extractor`), "translation" (`translation.py`: rows of held-out images, their translations
and cycles, and the translation metrics), "elbo" (`elbo.py`: a VAE's held-out ELBO and IWAE
bound), "reconstruction" (`reconstruction.py`: an autoencoder's held-out reconstruction
errors), "ms_ssim" (`ms_ssim.py`: the MS-SSIM diversity of the samples and of the held-out
data), "geometry_score" (`geometry_score.py`: the topology of the samples against the data's),
"skill_rating" (`skill_rating.py`: Glicko-2 ratings of G and D snapshots), "ais" (`ais.py`: AIS
log-likelihood).
When a config names none (`()`), the algorithm's own (`EVALUATORS`) run. Nothing is guessed from
the data. An evaluator whose metrics depend on a feature extractor says which (`feature_space`),
and the loop and `jaxgen eval` print and save it beside them.

An evaluator is a `BaseEvaluator` subclass registered with `@register_evaluator(name)`: each file
of this package registers itself (all are imported below), and a user's own module named in
`config.imports` registers the same way. It declares its options (`OPTIONS`, read from its
entry), the data facts it reads (`DATA_FACTS`) and what it cannot score (`check`); the loop builds
it once per run and calls it at each evaluation with a `Context` (the state, the step, the run's
sampler and algorithm, the data's held-out and training arrays, the picture's path). It returns a
flat dict of scalars, logged as `eval/<key>`.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Mapping
from typing import Any

from jaxgen import algorithms, data
from jaxgen.algorithms.base import Evaluation
from jaxgen.errors import ConfigError
from jaxgen.evaluators.base import BaseEvaluator, Context, EvalData, FeatureSpace, per_example
from jaxgen.options import declared, read_options, register_into

__all__ = [
  "EVALUATORS",
  "BaseEvaluator",
  "Context",
  "EvalData",
  "Evaluation",
  "FeatureSpace",
  "configured",
  "get",
  "per_example",
  "recorded_before_names",
  "register_evaluator",
]

KEY = "eval.evaluators"

# name -> evaluator class; filled by `register_evaluator` where each evaluator is written.
EVALUATORS: dict[str, type[BaseEvaluator]] = {}


def register_evaluator(name: str):
  """Class decorator: `config.eval.evaluators` may name the evaluator `name` (from any module,
  e.g. a user's own, named in `config.imports`). A name taken by another class is refused."""

  def add(evaluator: type) -> type:
    """Registers `evaluator` as `name`."""
    if not (isinstance(evaluator, type) and issubclass(evaluator, BaseEvaluator)):
      raise TypeError(f"Evaluator {name!r} must subclass jaxgen.evaluators.BaseEvaluator.")
    return register_into(EVALUATORS, "evaluator", name, evaluator)

  return add


def get(name: str) -> type[BaseEvaluator]:
  """The evaluator class registered as `name`; a ConfigError lists the valid names."""
  if name not in EVALUATORS:
    raise ConfigError(_unknown(KEY, name))
  return EVALUATORS[name]


def _unknown(key: str, name: Any) -> str:
  """The error of an unknown evaluator `name` at `key`: the valid names and the closest."""
  close = difflib.get_close_matches(str(name), list(EVALUATORS), n=1)
  hint = f" Did you mean {close[0]!r}?" if close else ""
  return (
    f"{key} = {name!r} is not one of {sorted(EVALUATORS)}.{hint} Set {key} to one of them, or "
    "register your own (jaxgen.evaluators.register_evaluator)."
  )


def configured(config, algorithm, facts=None) -> tuple[Evaluation, ...]:
  """The evaluators a run calls, each with every declared option's value, checked: the entries
  of `config.eval.evaluators`; when it names none, the algorithm's (`EVALUATORS`, `algorithm` a
  class or an instance); when it lacks the key (a config recorded before the key existed), those
  the loop ran then (`recorded_before_names`). With `facts` (`example_shape`, `num_classes`: the
  data set or `jaxgen.data.facts`), each evaluator's `check` of the algorithm and the data.

  Raises `ConfigError` naming the key, the value and the valid names or values."""
  section = config.get("eval") if hasattr(config, "get") else None
  entries = section.get("evaluators") if section is not None else None
  if entries is None:
    entries = recorded_before_names(_flat_facts(config))
  if entries is not None and not isinstance(entries, tuple | list):
    example = f"('{entries}',)" if isinstance(entries, str) else "('images',)"
    raise ConfigError(
      f"{KEY} = {entries!r} is not a tuple of evaluators (names, or {{'name': ..., **options}}); "
      f'e.g. --config.eval.evaluators="{example}"; valid names: {sorted(EVALUATORS)}.'
    )
  keyed = [(entry, f"{KEY}[{i}]") for i, entry in enumerate(entries or ())]
  if not keyed:
    default = f"{KEY} (algorithm {config.algorithm.name!r}'s default)"
    keyed = [(entry, default) for entry in _declared_default(algorithm)]
  if not keyed:
    raise ConfigError(
      f"{KEY} = () names no evaluator and the algorithm declares none (EVALUATORS); name one or "
      f"more of {sorted(EVALUATORS)}."
    )
  chosen = tuple(_checked(entry, key, algorithm, facts) for entry, key in keyed)
  names = [evaluation.name for evaluation in chosen]
  for name in names:
    if names.count(name) > 1:
      raise ConfigError(
        f"{KEY} names {name!r} twice ({names}): their metrics and pictures would clash; name each "
        "evaluator once."
      )
  return chosen


def _checked(entry, key: str, algorithm, facts) -> Evaluation:
  """`entry` (a name, a mapping with "name" and options, or an `Evaluation`) as an `Evaluation`
  holding every declared option's checked value."""
  if isinstance(entry, Evaluation):
    name, given = entry.name, dict(entry.options)
  elif isinstance(entry, str):
    name, given = entry, {}
  elif hasattr(entry, "keys") and "name" in entry:  # a dict or a ConfigDict
    name, given = entry["name"], {k: entry[k] for k in entry.keys() if k != "name"}
    key = f"{key}.name"
  else:
    raise ConfigError(
      f"{key} = {entry!r} is not an evaluator: give a name or {{'name': NAME, **options}}, NAME "
      f"one of {sorted(EVALUATORS)}."
    )
  if not isinstance(name, str) or name not in EVALUATORS:
    raise ConfigError(_unknown(key, name))
  owner = key.removesuffix(".name")
  cls = EVALUATORS[name]
  options = declared(cls)
  unknown = sorted(set(given) - set(options))
  if unknown:
    raise ConfigError(
      f"{owner} sets {unknown}, not options of evaluator {name!r}; its options: {sorted(options)}."
    )
  values = read_options(cls, given, owner=owner)
  if facts is not None:
    try:
      cls.check(values, algorithm, facts)
    except (TypeError, ValueError) as error:
      raise ConfigError(
        f"{key} = {name!r} does not fit this run (examples of shape "
        f"{tuple(facts.example_shape)}): {error}"
      ) from None
  return Evaluation(name, vars(values))


def _declared_default(algorithm) -> tuple[Evaluation, ...]:
  """The algorithm's `EVALUATORS` (a class, an instance, or a registered factory: none)."""
  return getattr(algorithm, "EVALUATORS", ())


def _flat_facts(config) -> dict[str, Any]:
  """The keys of `config` that `recorded_before_names` reads, flattened as config.json's are."""
  flat = {}
  for section in ("algorithm", "data"):
    if (block := config.get(section)) is not None and block.get("name") is not None:
      flat[f"{section}.name"] = block.get("name")
  options = config.get("data", {}).get("options") or {}
  return flat | {f"data.options.{k}": v for k, v in dict(options).items()}


# The algorithms that brought their own evaluation before configs named evaluators, and what it was.
# Frozen: an algorithm that declares `EVALUATORS` later did not run them then.
OWN_BEFORE_NAMES = {"cyclegan": ["translation"]}


def recorded_before_names(flat: Mapping[str, Any]) -> list[str | dict] | None:
  """The evaluators the loop ran before configs named them, for a config recorded without
  `eval.evaluators` (`flat`: its keys flattened, as `jaxgen.run.checkpoint.ADDED_KEY_DEFAULTS` reads
  them): the algorithm's own then (`OWN_BEFORE_NAMES`: CycleGAN's "translation"), else, as the
  data's example shape chose then, "points" for 1-D and 2-D examples and "images" for the others.
  None when `flat` names no known algorithm and data set."""
  name = flat.get("algorithm.name")
  if name not in algorithms.ALGORITHMS or not isinstance(flat.get("data.name"), str):
    return None
  if name in OWN_BEFORE_NAMES:
    return list(OWN_BEFORE_NAMES[name])
  prefix = "data.options."
  options = {k.removeprefix(prefix): v for k, v in flat.items() if k.startswith(prefix)}
  try:
    shape = tuple(data.facts(flat["data.name"], **options).example_shape)
  except (TypeError, ValueError):
    return None
  return ["points"] if shape in ((1,), (2,)) else ["images"]


def _import_evaluators() -> None:
  """Imports every module of this package: each registers its evaluator."""
  for module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{module.name}")


_import_evaluators()
