"""`--config.KEY=VALUE` overrides of a config, in order, each checked (unknown keys refused with the
valid ones and the closest match; text parsed by the field's type). A named block `{"name": ...,
**options}` (`data.options`, `optimizer.<player>`, `model.<role>`, `algorithm.penalty|reconstruction
|prior`) takes its name's options after all overrides; a new name drops the others, with a notice.

    argv, raw = split_config_overrides(sys.argv)    # {"num_steps": "5", "data.options.std": "0.02"}
    notices = apply_overrides(config, raw, parse_strings=True)
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import difflib
import functools
import inspect
import numbers
import re
import shlex
import types
from collections.abc import Mapping
from typing import Any

import ml_collections

from jaxgen import registry
from jaxgen.errors import ConfigError
from jaxgen.options import REQUIRED, declared

MISSING = object()
_NO_DEFAULT = (MISSING, inspect.Parameter.empty, dataclasses.MISSING, REQUIRED)
_GROUP_TYPES = (ml_collections.ConfigDict, Mapping)
_DATA = ("data", "options")  # the one named block whose name is outside it, in data.name
# Where the named blocks are (*: any player, any network role) and their kinds (`block_kind`).
_BLOCKS = {_DATA: "data set", ("optimizer", "*"): "optimizer", ("model", "*"): "{} network"}
_BLOCKS |= {("algorithm", "penalty"): "penalty", ("algorithm", "prior"): "latent prior"}
_BLOCKS |= {("algorithm", "reconstruction"): "reconstruction"}
# A field's type, the values it takes and how a message names them (bool before int).
_TYPES = (
  (bool, bool, "a bool (true/false, True/False or 1/0)"),
  (numbers.Integral, numbers.Integral, "an int"),
  (numbers.Real, numbers.Real, "a float (an int is fine too)"),
  (str, str, "a string"),
  (tuple | list, tuple | list, "a {}, e.g. (64, 64) or 64,64 (one element: (64,))"),
  (Mapping, _GROUP_TYPES, "a dict literal, e.g. \"{{'name': ..., 'option': ...}}\""),
)


class _BareFlag(str):
  """`--config.KEY` / `--noconfig.KEY` without `=VALUE`: "true" / "false", for bool fields only."""


_is_group = lambda node: isinstance(node, _GROUP_TYPES)
_has_default = lambda value: not any(value is absent for absent in _NO_DEFAULT)
_is_bare_name = lambda value: type(value) is str and value.strip().isidentifier()  # no _BareFlag
_name_path = lambda path: ("data", "name") if path == _DATA else (*path, "name")
_is_flag = lambda token: token.startswith("-") and type(_read(token, float)) is str  # not -3


def split_config_overrides(argv: list[str]) -> tuple[list[str], dict[str, str]]:
  """Takes `--config.KEY=VALUE`, `--config.KEY VALUE`, `--config.KEY` and `--noconfig.KEY` out of
  `argv`, up to `--`: (the other arguments, {key: text} with the last of a key winning)."""
  end = argv.index("--") if "--" in argv else len(argv)
  rest, overrides, i = [], {}, 0
  while i < end:
    arg, i = argv[i], i + 1
    match = re.fullmatch(r"--?(no)?config\.([^=]*)(?:=(.*))?", arg, re.DOTALL)
    if match is None:
      rest.append(arg)
      continue
    negated, key, value = match.groups()
    if not key or negated and value is not None:  # `--config.=1`, `--noconfig.seed=1`
      raise ConfigError(
        f"{arg!r}: write --config.{key or 'KEY'}=VALUE, e.g. --config.seed=1 (--noconfig.KEY sets "
        "a bool field to False and takes no value)."
      )
    if value is None and not negated and i < end and not _is_flag(argv[i]):
      value, i = argv[i], i + 1
    elif value is None:
      value = _BareFlag("false" if negated else "true")
    overrides.pop(key, None)  # the last occurrence wins, at its own position
    overrides[key] = value
  return rest + argv[end:], overrides


def _parameters(function, skip: int = 0) -> dict[str, Any]:
  """The keyword parameters of `function` past the `skip` its caller binds, with their defaults."""
  parameters = list(inspect.signature(function).parameters.values())[skip:]
  return {p.name: p.default for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def block_kind(label: str) -> types.SimpleNamespace:
  """The kind of named block `label` ("data set", "optimizer", "penalty", "<role> network", ...):
  its `label`, its names `choices()` and a name's `options(name)` with their defaults."""
  from jaxgen import algorithms, data, losses, nn, optim  # noqa: PLC0415 (they import Flax, TFDS)

  optimizers, priors = optim.OPTIMIZERS, losses.LATENT_PRIORS
  reconstructions, declarations = algorithms.vae.RECONSTRUCTIONS, nn.registry.DECLARATIONS
  # get_penalty binds (critic, real, fake, rng) and takes a zero weight with "none".
  penalties = {"none": lambda _c, _r, _f, _g, weight=0.0: None, **losses.penalties.PENALTIES}
  kinds = {  # label: (the names, a name's options with their defaults)
    "data set": (data.DATASETS, data.options),
    # make_optimizer takes clip_grad_norm for every optimizer.
    "optimizer": (optimizers, lambda n: _parameters(optimizers[n]) | {"clip_grad_norm": None}),
    "penalty": (penalties, lambda n: _parameters(penalties[n], 4)),
    "reconstruction": (reconstructions, lambda n: _parameters(reconstructions[n])),
    # build_prior draws with (rng, num) and binds latent_dim.
    "latent prior": (priors, lambda n: _parameters(priors[n], 3)),
  }
  for role, networks in nn.registry.NETWORKS.items():
    kinds[f"{role} network"] = (networks, lambda n, r=role: declarations[r, n].options())
  names, options = kinds[label]
  choices = lambda: sorted(names, key=lambda name: (name != "none", name))  # "none" first
  return types.SimpleNamespace(label=label, choices=choices, options=options)


def _label(path: tuple[str, ...]) -> str | None:
  """The kind of the named block whose options live at `path`, if `path` is one."""
  from jaxgen.nn import registry as networks  # noqa: PLC0415 (it imports Flax)

  label = _BLOCKS.get(path) or len(path) == 2 and _BLOCKS.get((path[0], "*"))
  known = label and (path[0] != "model" or path[-1] in networks.NETWORKS)
  return label.format(path[-1]) if known else None


def dotted_get(config, key: str | tuple[str, ...]):
  """The value at the dotted `key` (or its parts) of `config`, or MISSING."""
  step = lambda node, part: node[part] if _is_group(node) and part in node else MISSING
  return functools.reduce(step, key.split(".") if isinstance(key, str) else key, config)


def closest_match(word, choices) -> str | None:
  """The choice closest to `word` (difflib, cutoff 0.6), or None."""
  matches = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
  return matches[0] if matches else None


def _unknown(head: str, word, choices: list, valid: str, parent: str = "") -> ConfigError:
  """`head`, the closest of `choices` to `word` (in `parent`), and `valid`: the choices."""
  match = closest_match(word, choices) if isinstance(word, str) else None
  hint = f"; did you mean {'.'.join(filter(None, (parent, match)))!r}?" if match else "."
  return ConfigError(f"{head}{hint} {valid}: {', '.join(choices)}.")


def option_readers(key: str) -> dict[str, Any]:
  """{algorithm: its `Option`} for the algorithms that declare `algorithm.<key>`."""
  from jaxgen import algorithms  # noqa: PLC0415 (they import Flax)

  found = sorted(algorithms.ALGORITHMS.items())
  return {name: declared(cls)[key] for name, cls in found if key in declared(cls)}


def _group(config, parts: tuple[str, ...], key: tuple[str, ...]):
  """The sub-config at `parts`; errors name the key `key` being set."""
  node = config
  for depth, part in enumerate(parts):
    parent, here = ".".join(parts[:depth]), ".".join(parts[: depth + 1])
    if part not in node:
      where = f"Valid keys of {parent!r}" if parent else "Valid keys"
      raise _unknown(f"Unknown config key {'.'.join(key)!r}", part, sorted(node), where, parent)
    node = node[part]
    if not _is_group(node):
      raise ConfigError(
        f"Unknown config key {'.'.join(key)!r}: {here!r} is a value ({node!r}), not a group of "
        f"keys; set it with --config.{here}=VALUE."
      )
  return node


def _assign(node, leaf: str, value, key: str = "", retype: bool = False) -> None:
  """Sets `node[leaf]` (MISSING: deletes it) though `node` is locked: the keys are checked here."""
  try:
    with getattr(node, "unlocked", contextlib.nullcontext)():
      if (retype or value is MISSING) and leaf in node:  # retype: ConfigDict keeps a key's type
        del node[leaf]
      if value is not MISSING:
        node[leaf] = value
  except (TypeError, ValueError) as error:  # ConfigDict's own type check
    raise ConfigError(f"Cannot set config key {key!r} to {value!r}: {error}") from None


def _expected(node, leaf: str, default=MISSING) -> tuple[type | None, Any]:
  """(the type a new value of `node[leaf]` must have or None, an example); `default` if absent."""
  example = node[leaf] if leaf in node else default
  expected = type(example)
  with contextlib.suppress(AttributeError, KeyError, TypeError):
    expected = node.get_type(leaf)  # a typed placeholder (FieldReference) keeps it, holding None
  if expected is type(None) or not _has_default(example):
    return None, example
  return (dict if issubclass(expected, _GROUP_TYPES) else expected), example


def _describe(expected) -> str:
  if isinstance(expected, tuple):
    return " or ".join(_describe(one).split(",")[0] for one in expected)
  row = next((row for row in _TYPES if issubclass(expected, row[0])), (None, None, "a {}"))
  return row[2].format(expected.__name__)


def _read(text: str, expected: type | None):
  """Command-line `text` as a value of type `expected` (left as text where it is not one)."""
  if expected is bool:
    return {"true": True, "1": True, "false": False, "0": False}.get(text.strip().lower(), text)
  if expected is not None and issubclass(expected, str):
    return text
  with contextlib.suppress(ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
    return ast.literal_eval(text.strip())  # None too, e.g. ring8's num_examples=None
  with contextlib.suppress(ValueError):  # inf and nan, which are no literals
    return float(text) if expected is not None and issubclass(expected, numbers.Real) else text
  return text


def _convert(key: str, value, expected, parse: bool, example=MISSING):
  """`value` (text when `parse`) typed for a field of type `expected` (a tuple: one of them)."""
  if isinstance(value, _BareFlag) and expected is not bool:
    what = "a value" if expected is None else _describe(expected).split(",")[0]
    raise ConfigError(
      f"--config.{key} needs a value: write --config.{key}=VALUE (only bool fields may be given "
      f"as --config.KEY / --noconfig.KEY; {key!r} takes {what})."
    )
  for one in expected if isinstance(expected, tuple) else (expected,):
    typed = _read(value, one) if parse and isinstance(value, str) else value
    row = next((row for row in _TYPES if one and issubclass(one, row[0])), None)
    if typed is None or row is None:  # an unknown type: ConfigDict's own check decides
      return typed
    if isinstance(typed, row[1]) and (one is bool or not isinstance(typed, bool)):
      return typed if row[0] is Mapping else one(typed)
  message = f"Bad value for config key {key!r}: {value!r} is not {_describe(expected)}"
  message += ", the field's type."
  if example is not None and _has_default(example) and not _is_group(example):
    text = str(example).lower() if isinstance(example, bool) else str(example)
    message += f" Write e.g. {shlex.quote(f'--config.{key}={text}')}."
  raise ConfigError(message)


def _set_field(config, parts: tuple[str, ...], value, parse: bool):
  """Sets a key that is not a named block's option; returns the value set."""
  key, leaf = ".".join(parts), parts[-1]
  node = _group(config, parts[:-1], parts)
  readers = option_readers(leaf) if parts[0] == "algorithm" and len(parts) == 2 else {}
  option = next((o for name, o in readers.items() if name == node.get("name")), None)
  # A whole named block the file lacks (a discriminator for a VAE made a VAE-GAN); new optimizer
  # blocks only for the players the algorithms have, so that a typo is still refused.
  new_block = _label(parts) and (parts[0] != "optimizer" or _label(("model", parts[1])))
  if leaf not in node and not new_block and option is None:
    if readers:
      raise ConfigError(
        f"Unknown config key {key!r} for algorithm {node.get('name')!r}: it is an option of "
        f"{', '.join(map(repr, readers))}. To switch, give --config.algorithm.name=NAME before it."
      )
    _group(config, parts, parts)  # raises the unknown key
  # A key of the algorithm named by an earlier override is typed by its declared default.
  default = {} if new_block else getattr(option, "default", MISSING)
  expected, example = _expected(node, leaf, default)
  if option is not None and option.types:  # e.g. AdaGAN's beta: a heuristic's name or a number
    expected = tuple(sorted(option.types, key=lambda t: issubclass(t, str)))  # any text is a str
  elif parse and expected is dict and _label(parts) and _is_bare_name(value):
    value = {"name": value.strip()}  # `--config.algorithm.penalty=r1`: the block by its name
  value = _convert(key, value, expected, parse, example)
  _assign(node, leaf, value, key, retype=isinstance(expected, tuple))
  return value


def apply_overrides(config, overrides: Mapping, *, parse_strings: bool = False) -> list[str]:
  """Sets the dotted keys of `overrides` (raw strings when `parse_strings`) in `config`, in order,
  refusing a bad one with a ConfigError; returns the notices of options dropped or defaulted."""
  groups = lambda: [(g, k) for g, node in config.items() if _is_group(node) for k in node]
  blocks = lambda: [p for p in groups() if _label(p) and _is_group(dotted_get(config, p))]
  old_names = {path: dotted_get(config, _name_path(path)) for path in blocks()}
  # {block: its options}, checked once every name is final; where dicts were set (replacing the
  # options given before them); the blocks given by a bare name; the notice lines.
  options, replaced, by_name, notices = {}, set(), set(), []
  for key, value in overrides.items():
    parts = tuple(key.split("."))
    if len(parts) > 1 and _label(parts[:-1]) and (parts[-1] != "name" or parts[:-1] == _DATA):
      options.setdefault(parts[:-1], {})[parts[-1]] = value  # checked once every name is final
      continue
    new = _set_field(config, parts, value, parse_strings)
    if parts == ("imports",):  # the user's components, before the keys that name them
      registry.import_components(config)
    if _is_group(new):
      replaced.add(parts)
      options = {path: o for path, o in options.items() if path[: len(parts)] != parts}
      (by_name.add if parse_strings and _is_bare_name(value) else by_name.discard)(parts)
  for path in sorted(set(blocks()) | set(options)):
    whole = any(path[: len(p)] == p for p in replaced)  # a dict set at the block or above it
    given = (options.get(path, {}), whole, path in by_name, parse_strings)
    notices += _settle_block(config, path, old_names.get(path, MISSING), *given)
  return notices


def _settle_block(config, path, old_name, explicit, whole, by_name, parse) -> list[str]:
  """Checks and sets the options of the named block at `path` once its name is final: `explicit`
  {option: value} given, `whole` the block set as a dict, `by_name` given by its name alone."""
  node = _group(config, path, (*path, next(iter(explicit), "name")))
  name, kind, where = dotted_get(config, _name_path(path)), block_kind(_label(path)), ".".join(path)
  renamed = old_name not in (MISSING, name) and not whole
  if not (explicit or whole or renamed):
    return []
  if name not in kind.choices():
    given = "no name" if name is MISSING else repr(name)
    head = f"Unknown {kind.label} {given} (config key {'.'.join(_name_path(path))!r})"
    raise _unknown(head, name, kind.choices(), "Choose one of")
  valid, notices = kind.options(name), []
  others = [k for k in node if k not in explicit and (k != "name" or path == _DATA)]
  unfit = [k for k in others if k not in valid]
  bad = [k for k in explicit if k not in valid] + (unfit if whole else [])
  if bad:
    head = f"Unknown config key {f'{where}.{bad[0]}'!r}: {bad[0]!r} is not an option of the"
    raise _unknown(f"{head} {kind.label} {name!r}", bad[0], sorted(valid), "Valid options")
  if renamed and unfit:
    dropped = ", ".join(f"{k}={node[k]!r}" for k in unfit)
    notices.append(f"{where}: {old_name} -> {name} drops {dropped} (not options of {name})")
  # The options of "none" (no component) are placeholders: a new name takes its own defaults.
  placeholder = renamed and old_name == "none"
  for k in others if placeholder else unfit if renamed else ():
    _assign(node, k, MISSING)
  typed = {}  # option: (value, default, parse); the values of a dict set here are typed too
  if placeholder or by_name:  # the user saw no options: written out for config.json
    fresh = [k for k in valid if k not in node and k not in explicit and _has_default(valid[k])]
    typed = {k: (valid[k], valid[k], False) for k in fresh}
    listed = ", ".join(f"{k}={v!r}" for k, (v, _, _) in typed.items())
    notices += [f"{where}: {name} with its defaults {listed}"] if typed else []
  typed |= {k: (node[k], valid[k], False) for k in others if whole}
  typed |= {k: (v, valid.get(k, MISSING), parse) for k, v in explicit.items()}
  for k, (value, default, parse_value) in typed.items():
    expected, example = _expected(node if k in explicit else {}, k, default)
    full = f"{where}.{k}"
    _assign(node, k, _convert(full, value, expected, parse_value, example), full)
  return notices
