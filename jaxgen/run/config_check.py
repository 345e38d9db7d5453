"""`check_config(config)`: every value of a config checked before step 1, cheaply (no data read,
nothing compiled), by the library's own validators and last the algorithm's constructor and init
traced on a stand-in of the data; this module adds the schema of keys and the loop's ranges."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

import jax
import ml_collections
import numpy as np

from jaxgen import algorithms, data, evaluators, optim, registry
from jaxgen.algorithms.base import init_train_state
from jaxgen.configs import default
from jaxgen.data.base import HandedData, check_int
from jaxgen.errors import ConfigError
from jaxgen.metrics import evaluator
from jaxgen.nn import precision
from jaxgen.nn import registry as networks
from jaxgen.options import declared
from jaxgen.run import parallel
from jaxgen.run.overrides import MISSING, closest_match, dotted_get, option_readers

# The training loop's integers and their least values (data sets' batches need seed >= 0).
LOOP_INTS = {
  "seed": 0,
  **dict.fromkeys(("batch_size", "num_steps", "log_every", "eval_every", "checkpoint_every"), 1),
  **dict.fromkeys(("keep_checkpoints", "eval.num_samples", "eval.num_reference"), 1),
  "steps_per_call": 1,
  "model.latent_dim": 1,  # 0 ends in a ZeroDivisionError inside JAX's initialiser
}
BOOLS = ("progress_bar", "conditional")
REQUIRED = ("seed", "batch_size", "num_steps", "eval_every", "checkpoint_every", "data.name")
REQUIRED += ("algorithm.name", "model.latent_dim", "eval.num_samples")


def check_config(config) -> None:
  """Raises `ConfigError` naming the dotted key, the value and the valid choices or range of the
  first value that is unknown, out of range or does not fit the rest of the config."""
  if not isinstance(config, ml_collections.ConfigDict | ml_collections.FrozenConfigDict):
    config = ml_collections.ConfigDict(config)
  registry.import_components(config)  # the user's components exist before names are checked
  base = default.get_config()
  _check_keys(config, dict.fromkeys(base), "")
  for key in REQUIRED:
    _require(config, key)
  name = _choose("algorithm.name", config.algorithm.name, algorithms.ALGORITHMS)
  data_name = _choose("data.name", config.data.name, data.DATASETS)
  _library("precision", dotted_get(config, "precision"), precision.check_precision)
  _choose("cpu_dot_fusion", dotted_get(config, "cpu_dot_fusion"), parallel.CPU_DOT_FUSIONS)
  cls = algorithms.ALGORITHMS[name]
  options, players = declared(cls), {p: networks.NETWORKS[r] for p, r in cls.PLAYERS.items()}
  algorithm = dict.fromkeys(("name", *options))
  if "stabilisers" in algorithm:
    algorithm["stabilisers"] = dict.fromkeys(base.algorithm.stabilisers)
  schema = {
    **dict.fromkeys(base),
    "data": {"name": None, "options": dict.fromkeys(data.options(data_name))},
    "eval": dict.fromkeys(base.eval),
    "algorithm": algorithm,
    "model": dict.fromkeys(("latent_dim", *players)),
    "optimizer": dict.fromkeys(players),
  }
  _check_keys(config, schema, "", name)
  for key, minimum in LOOP_INTS.items():
    short = key.rpartition(".")[2]
    check = lambda value, short=short, minimum=minimum: check_int(short, value, minimum=minimum)
    _library(key, dotted_get(config, key), check, "is out of range")
  _check_steps_per_call(config)
  for key in BOOLS:
    value = dotted_get(config, key)
    if value is not MISSING and not isinstance(value, bool):
      raise ConfigError(f"{key} = {value!r} is not a bool; set it to True or False.")
  for key, option in options.items():
    if (value := dotted_get(config.algorithm, key)) is not MISSING:
      option.validate(value)
  _check_players(config, players, cls.OPTIONAL_PLAYERS)
  options = config.data.get("options") or {}
  facts = _library("data.options", options, lambda o: data.facts(data_name, **o))
  _check_fit(config, name, data_name, facts)
  evaluators.configured(config, cls, facts)  # eval.evaluators: names, options, fit to the data


def _check_steps_per_call(config) -> None:
  """Evaluations and checkpoints fall at the end of a call: their periods are multiples of it."""
  count = dotted_get(config, "steps_per_call")
  if count is MISSING or count == 1:
    return
  for key in ("eval_every", "checkpoint_every"):
    if config[key] % count:
      raise ConfigError(
        f"{key} = {config[key]} is not a multiple of steps_per_call = {count}: evaluations and "
        f"checkpoints happen between calls of {count} steps. Use a multiple of {count} (e.g. "
        f"{max(count, config[key] // count * count)}) or another steps_per_call."
      )


def _check_players(config, players: Mapping[str, Mapping], optional: tuple[str, ...]) -> None:
  """`model.<player>.name` in its registry; `optimizer.<player>` through make_optimizer's checks."""
  for player, networks_of_role in players.items():
    blocks = (f"model.{player}", f"optimizer.{player}")
    if player in optional and all(dotted_get(config, key) is MISSING for key in blocks):
      continue
    _choose(f"model.{player}.name", _require(config, f"model.{player}.name"), networks_of_role)
    prefix, block = f"optimizer.{player}.", dotted_get(config, f"optimizer.{player}")
    optimizer = _choose(prefix + "name", _require(config, prefix + "name"), optim.OPTIMIZERS)
    _check_keys(block, dict.fromkeys(("name", *optim.option_names(optimizer))), prefix)
    for option in block.keys():
      check = lambda value, option=option: optim.check_option(option, value)
      _library(prefix + option, block[option], check, "is out of range")
    _library(f"optimizer.{player}", block, optim.make_optimizer)


def _check_fit(config, name: str, data_name: str, facts: data.Facts) -> None:
  """Whether the pieces fit together: extractor, packing, then the algorithm itself and its init."""
  extractor, weights = config.eval.get("extractor", ""), config.eval.get("extractor_weights", "")
  if extractor == "" and weights:
    raise ConfigError(
      f"eval.extractor_weights = {weights!r} is set but eval.extractor = '' (pictures only) would "
      "ignore it; name the extractor it belongs to or set eval.extractor_weights = ''."
    )
  if extractor != "":
    _choose("eval.extractor", extractor, {"": None, **evaluator.EXTRACTORS})
    found = lambda path: evaluator.check_extractor_weights(extractor, path)
    _library("eval.extractor_weights", weights, found)
    fits = lambda name: evaluator.check_extractor_input(name, facts.example_shape)
    _library("eval.extractor", extractor, fits, f"does not fit data.name = {data_name!r}")
    least = {"eval.num_samples": evaluator.MIN_FAKE_IMAGES}
    least["eval.num_reference"] = evaluator.MIN_REAL_IMAGES
    for key, minimum in least.items():
      value = dotted_get(config, key)
      if value is not MISSING and value < minimum:
        raise ConfigError(
          f"{key} = {value!r} is too few for the image metrics of eval.extractor = {extractor!r}: "
          f"they need at least {minimum}; raise it or set eval.extractor = ''."
        )
  packing = dotted_get(config, "algorithm.stabilisers.packing")
  if packing is not MISSING and config.batch_size % packing:
    raise ConfigError(
      f"batch_size = {config.batch_size} is not divisible by algorithm.stabilisers.packing = "
      f"{packing}; PacGAN packs whole batches, so make batch_size a multiple of the packing."
    )
  zeros = lambda num: np.zeros((num, *facts.example_shape), np.float32)
  stand_in = HandedData(data_name, tuple(facts.example_shape), facts.num_classes, zeros)
  batch = data.stand_in_batch(data_name, facts, config.batch_size)

  def build():  # a new function per call: eval_shape caches its traces by function
    algorithm = algorithms.get(name)(config, stand_in)
    # The init too: some misfits show only there (a head reading what its base never sows).
    init_train_state(algorithm, jax.random.key(0), batch)

  try:
    # Constructors may run JAX ops (the AAE draws from its prior to check the prior's options);
    # traced abstractly they are checked without compiling (1.7 s eagerly for the AAE).
    jax.eval_shape(build)
  except (AttributeError, KeyError) as error:
    raise ConfigError(f"algorithm {name!r} reads a key the config lacks: {error}.") from None
  except (TypeError, ValueError) as error:
    raise ConfigError(
      f"The config's pieces do not fit together (algorithm {name!r} on data {data_name!r}, "
      f"examples of shape {facts.example_shape}): {error}"
    ) from None


def _check_keys(section, schema: Mapping, prefix: str, algorithm: str = "") -> None:
  """Every key of `section` is in `schema`; recurses into the sub-schemas that are mappings."""
  for key in section.keys():
    dotted = prefix + key
    if key not in schema:
      raise ConfigError(
        f"Unknown config key {dotted!r}{_hint(prefix, key, algorithm)}.{_suggest(key, schema)} "
        f"Valid keys there: {sorted(schema)}; remove the key or fix its spelling."
      )
    if schema[key] is not None and hasattr(section[key], "keys"):
      _check_keys(section[key], schema[key], dotted + ".", algorithm)


def _hint(prefix: str, key: str, algorithm: str) -> str:
  if prefix == "algorithm.":
    readers = list(option_readers(key))
    return f" for algorithm {algorithm!r}" + (f" (read by {readers})" if readers else "")
  if prefix in ("model.", "optimizer."):
    return f": algorithm {algorithm!r} has the players {list(algorithms.get(algorithm).PLAYERS)}"
  return ""


def _require(config, key: str):
  value = dotted_get(config, key)
  if value is MISSING:
    raise ConfigError(f"The config lacks the key {key!r}; add it (jaxgen/configs/default.py).")
  return value


def _choose(key: str, value: Any, choices):
  """`value` if it is one of `choices`; an absent value passes (the library's default applies)."""
  if value is not MISSING and not (isinstance(value, Hashable) and value in choices):
    raise ConfigError(
      f"{key} = {_show(value)} is not one of {sorted(choices)}.{_suggest(value, choices)} "
      f"Set {key} to one of them."
    )
  return value


def _library(key: str, value: Any, validator: Callable[[Any], Any], verb: str = "is refused"):
  """`validator(value)`, its ValueError made a ConfigError naming `key`; absent values pass."""
  if value is MISSING:
    return None
  try:
    return validator(value)
  except ConfigError:
    raise
  except (TypeError, ValueError, FileNotFoundError) as error:
    raise ConfigError(f"{key} = {_show(value)} {verb}: {error}") from None


def _suggest(value: Any, choices) -> str:
  return f" Did you mean {close!r}?" if (close := closest_match(value, choices)) else ""


def _show(value: Any) -> str:
  if value is MISSING:
    return "<missing>"
  return repr(value.to_dict() if hasattr(value, "to_dict") else value)
