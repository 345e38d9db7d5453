"""Dotted-key overrides of a config: `--config.KEY=VALUE` on the command line, a dict in Python.

    argv, raw = split_config_overrides(sys.argv)    # {"num_steps": "5", "data.options.std": "0.02"}
    notices = apply_overrides(config, raw, parse_strings=True)

Every key is checked: an unknown key is refused with the valid keys at its level and the closest
match. Strings are parsed by the type of the field they replace (int, float, bool, str, tuple/list,
dict; a None-valued field takes a Python literal or else the string).

Some sub-configs are "named blocks", `{"name": ..., **options}`, whose options depend on the name:
`data.options` (of the data set `data.name`), `optimizer.<player>`, `model.generator|discriminator|
encoder|decoder|translator`, `algorithm.penalty|reconstruction|prior`. An option is valid there
when the named thing accepts it, even if the config file does not spell it out; the name used is
the one after all overrides, so `data.name=grid25 data.options.std=0.1` works on a ring8 config.
When an override changes a block's name, the options the new one does not take are dropped and a
notice line says so; such options given explicitly are an error. A block can also be replaced
whole by a dict (`--config.optimizer.generator="{'name': 'sgd', 'learning_rate': 0.01}"`).

Overrides apply in order (the later of two on the same field wins; a whole-block literal replaces
the options given before it). On a ConfigError the config may be partly updated.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import difflib
import functools
import inspect
import numbers
import shlex
from collections.abc import Callable, Mapping
from typing import Any

import ml_collections

from jaxgen.errors import ConfigError

_FLAG_PREFIXES = ("--config.", "-config.")
_NEGATED_PREFIXES = ("--noconfig.", "-noconfig.")
_MISSING = object()


class _BareFlag(str):
  """The value of `--config.KEY` / `--noconfig.KEY` given without `=VALUE` ("true" / "false").

  A str, so the overrides stay a dict of strings; only a bool field accepts it.
  """


# --- The command line ----------------------------------------------------------------------------


def split_config_overrides(argv: list[str]) -> tuple[list[str], dict[str, str]]:
  """Removes the `--config.KEY=VALUE` arguments from `argv`.

  Also takes `--config.KEY VALUE` (when VALUE does not look like a flag) and the bool forms
  `--config.KEY` / `--noconfig.KEY`. `--config=FILE[:ARG]` and everything after `--` stay.

  Returns:
    The remaining arguments, and the overrides as {dotted key: raw string} in command-line order
    (a key given twice keeps its last value, at its last position).
  """
  rest: list[str] = []
  overrides: dict[str, str] = {}
  i = 0
  while i < len(argv):
    arg = argv[i]
    i += 1
    if arg == "--":
      rest.extend(argv[i - 1 :])
      break
    prefix = next((p for p in _FLAG_PREFIXES if arg.startswith(p)), None)
    negated = next((p for p in _NEGATED_PREFIXES if arg.startswith(p)), None)
    if prefix is None and negated is None:
      rest.append(arg)
      continue
    body = arg[len(prefix or negated) :]
    if negated:
      if "=" in body:
        raise ConfigError(
          f"{arg!r}: --noconfig.KEY sets a bool field to False and takes no value; "
          f"write --config.{body.split('=', 1)[0]}=VALUE instead."
        )
      key, value = body, _BareFlag("false")
    elif "=" in body:
      key, value = body.split("=", 1)
    elif i < len(argv) and not _looks_like_flag(argv[i]):
      key, value = body, argv[i]
      i += 1
    else:
      key, value = body, _BareFlag("true")
    if not key:
      raise ConfigError(
        f"{arg!r} names no config key; write --config.KEY=VALUE, e.g. --config.seed=1."
      )
    overrides.pop(key, None)  # the last occurrence wins, at its own position
    overrides[key] = value
  return rest, overrides


def _looks_like_flag(token: str) -> bool:
  if not token.startswith("-"):
    return False
  try:
    float(token)  # a negative number is a value
  except ValueError:
    return True
  return False


# --- Named blocks --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _BlockKind:
  """What a named block is: how to list its names and the options (with defaults) of a name."""

  label: str  # "optimizer", "data set", ...
  choices: Callable[[], list[str]]
  # The accepted options of a valid name with their defaults (inspect.Parameter.empty: none), or
  # None when they cannot be determined (then any option is let through to construction).
  options: Callable[[str], dict[str, Any] | None]


def _parameters(function, skip: int = 0, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
  """The keyword parameters of `function` with their defaults, past the first `skip`."""
  parameters = list(inspect.signature(function).parameters.values())[skip:]
  return {
    p.name: p.default
    for p in parameters
    if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    and p.name not in exclude
  }


def _data_kind() -> _BlockKind:
  from jaxgen import data  # noqa: PLC0415 — the data sets import TFDS; only load them when needed

  return _BlockKind("data set", lambda: sorted(data.DATASETS), data.options)


def _optimizer_options(name: str) -> dict[str, Any]:
  from jaxgen import optim  # noqa: PLC0415

  # make_optimizer takes clip_grad_norm for every optimizer.
  return {**_parameters(optim.OPTIMIZERS[name]), "clip_grad_norm": None}


def _optimizer_kind() -> _BlockKind:
  from jaxgen import optim  # noqa: PLC0415

  return _BlockKind("optimizer", lambda: sorted(optim.OPTIMIZERS), _optimizer_options)


def _network_roles() -> tuple[str, ...]:
  from jaxgen.nn import registry  # noqa: PLC0415 — the networks import Flax; only load when needed

  return tuple(registry.NETWORKS)


def _network_registry(role: str) -> Mapping[str, Callable[..., Any]]:
  from jaxgen.nn import registry  # noqa: PLC0415

  return registry.NETWORKS[role]


def _network_options(role: str, name: str) -> dict[str, Any]:
  """The options the `name` network of `role` declares (`registry.Declaration`)."""
  from jaxgen.nn import registry  # noqa: PLC0415

  options = registry.DECLARATIONS[role, name].options()
  return {k: inspect.Parameter.empty if v is dataclasses.MISSING else v for k, v in options.items()}


def _network_kind(role: str) -> _BlockKind:
  return _BlockKind(
    f"{role} network",
    lambda: sorted(_network_registry(role)),
    lambda name: _network_options(role, name),
  )


def _penalty_options(name: str) -> dict[str, Any]:
  from jaxgen.losses import penalties  # noqa: PLC0415

  if name == "none":
    return {"weight": 0.0}  # get_penalty accepts a zero weight with "none"
  # get_penalty binds (critic, real, fake, rng) itself.
  return _parameters(penalties.PENALTIES[name], skip=4)


def _penalty_kind() -> _BlockKind:
  from jaxgen.losses import penalties  # noqa: PLC0415

  return _BlockKind("penalty", lambda: ["none", *sorted(penalties.PENALTIES)], _penalty_options)


def _reconstruction_kind() -> _BlockKind:
  from jaxgen.algorithms import vae  # noqa: PLC0415

  return _BlockKind(
    "reconstruction",
    lambda: sorted(vae.RECONSTRUCTIONS),
    lambda name: _parameters(vae.RECONSTRUCTIONS[name]),
  )


def _prior_kind() -> _BlockKind:
  from jaxgen import losses  # noqa: PLC0415

  # build_prior binds latent_dim and draws with (rng, num).
  return _BlockKind(
    "latent prior",
    lambda: sorted(losses.LATENT_PRIORS),
    lambda name: _parameters(losses.LATENT_PRIORS[name], exclude=("rng", "num", "latent_dim")),
  )


def block_kind(label: str) -> _BlockKind:
  """The named block kind `label` ("data set", "optimizer", "penalty", "reconstruction",
  "latent prior"): its names and each name's options with defaults (the catalogue reads them)."""
  makers = {"data set": _data_kind, "optimizer": _optimizer_kind, "penalty": _penalty_kind}
  makers |= {"reconstruction": _reconstruction_kind, "latent prior": _prior_kind}
  return makers[label]()


@dataclasses.dataclass(frozen=True)
class _Block:
  path: tuple[str, ...]  # the node that holds the options
  name_path: tuple[str, ...]  # the key that holds the name
  make_kind: Callable[[], _BlockKind]

  @property
  def self_named(self) -> bool:
    """Whether the name is a key of the block itself (then "name" is not an option)."""
    return self.name_path[:-1] == self.path


def _block_at(path: tuple[str, ...]) -> _Block | None:
  """The named block whose options live at `path`, if `path` is one."""
  if path == ("data", "options"):
    return _Block(path, ("data", "name"), _data_kind)
  if len(path) != 2:
    return None
  group, key = path
  if group == "optimizer":
    return _Block(path, (*path, "name"), _optimizer_kind)
  if group == "model" and key in _network_roles():
    return _Block(path, (*path, "name"), functools.partial(_network_kind, key))
  makers = {"penalty": _penalty_kind, "reconstruction": _reconstruction_kind, "prior": _prior_kind}
  if group == "algorithm" and key in makers:
    return _Block(path, (*path, "name"), makers[key])
  return None


def _blocks_in(config) -> dict[tuple[str, ...], _Block]:
  """The named blocks present (as sub-configs) in `config`."""
  candidates = [("data", "options"), ("algorithm", "penalty"), ("algorithm", "reconstruction")]
  candidates += [("algorithm", "prior")] + [("model", role) for role in _network_roles()]
  optimizers = _get(config, ("optimizer",))
  if _is_group(optimizers):
    candidates += [("optimizer", key) for key in optimizers]
  return {path: _block_at(path) for path in candidates if _is_group(_get(config, path))}


def _option_key(parts: tuple[str, ...]) -> tuple[_Block, str] | None:
  """(block, option) when the dotted key `parts` is one option of a named block."""
  if len(parts) < 2:
    return None
  block = _block_at(parts[:-1])
  if block is None or (block.self_named and parts[-1] == "name"):
    return None
  return block, parts[-1]


# --- Reading and writing the config --------------------------------------------------------------


_GROUP_TYPES = (ml_collections.ConfigDict, Mapping)


def _is_group(node) -> bool:
  return isinstance(node, _GROUP_TYPES)


def _get(config, parts: tuple[str, ...]):
  node = config
  for part in parts:
    if not (_is_group(node) and part in node):
      return _MISSING
    node = node[part]
  return node


def _dotted(parts) -> str:
  return ".".join(parts)


def _closest(word: str, choices) -> str | None:
  matches = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
  return matches[0] if matches else None


def _unknown_key(parts: tuple[str, ...], depth: int, node) -> ConfigError:
  """The error for `parts[depth]`, which `node` (the group at parts[:depth]) lacks."""
  key, parent = _dotted(parts), _dotted(parts[:depth])
  match = _closest(parts[depth], node)
  hint = f"; did you mean {_dotted((*parts[:depth], match))!r}?" if match else "."
  where = f" of {parent!r}" if parent else ""
  return ConfigError(
    f"Unknown config key {key!r}{hint} Valid keys{where}: {', '.join(sorted(node))}."
  )


def _group(config, parts: tuple[str, ...], key: tuple[str, ...]):
  """The sub-config at `parts`; errors name the key `key` being set."""
  node = config
  for depth, part in enumerate(parts):
    if part not in node:
      raise _unknown_key(key, depth, node)
    node = node[part]
    if not _is_group(node):
      here = _dotted(parts[: depth + 1])
      raise ConfigError(
        f"Unknown config key {_dotted(key)!r}: {here!r} is a value ({node!r}), not a group of "
        f"keys; set it with --config.{here}=VALUE."
      )
  return node


@contextlib.contextmanager
def _unlocked(node):
  # A locked ConfigDict refuses new and deleted keys; the keys are checked here instead.
  if isinstance(node, ml_collections.ConfigDict) and node.is_locked:
    with node.unlocked():
      yield
  else:
    yield


def _assign(node, leaf: str, value, key: str) -> None:
  try:
    with _unlocked(node):
      node[leaf] = value
  except (TypeError, ValueError) as error:  # ConfigDict's own type check
    raise ConfigError(f"Cannot set config key {key!r} to {value!r}: {error}") from None


def _field_type(node, leaf: str) -> type | None:
  """The type a new value of `node[leaf]` must have; None when any value goes."""
  value = node[leaf]
  if value is None:
    try:  # a typed placeholder (FieldReference) keeps its type while it holds None
      expected = node.get_type(leaf)
    except (AttributeError, KeyError, TypeError):
      return None
    return None if expected is type(None) else expected
  if isinstance(value, _GROUP_TYPES):
    return dict
  return type(value)


def _declared_types(config, parts: tuple[str, ...]) -> tuple[type, ...] | None:
  """The value types the algorithm named in `config` declares for `algorithm.<option>` (its
  `Option.types`, e.g. AdaGAN's beta: a heuristic's name or a number), or None."""
  if len(parts) != 2 or parts[0] != "algorithm":
    return None
  from jaxgen import algorithms  # noqa: PLC0415 — the algorithms import Flax; only load when needed
  from jaxgen.options import declared  # noqa: PLC0415

  name = _get(config, ("algorithm", "name"))
  if not isinstance(name, str) or name not in algorithms.ALGORITHMS:
    return None
  option = declared(algorithms.ALGORITHMS[name]).get(parts[1])
  return (option.types or None) if option is not None else None


def _declared_default(config, parts: tuple[str, ...]):
  """The default the algorithm named in `config` declares for `algorithm.<option>`, or _MISSING."""
  from jaxgen import algorithms  # noqa: PLC0415
  from jaxgen.options import REQUIRED, declared  # noqa: PLC0415

  option = declared(algorithms.get(config.algorithm.name)).get(parts[1])
  return _MISSING if option is None or option.default is REQUIRED else option.default


def _parse_union(key: str, text: str, types: tuple[type, ...]):
  """`text` as the first of `types` it reads as (str last: any text is a string)."""
  ordered = sorted(types, key=lambda t: issubclass(t, str))
  for expected in ordered:
    try:
      return _parse(key, text, expected, _MISSING)
    except ConfigError:
      continue
  raise ConfigError(
    f"Bad value for config key {key!r}: {text!r} is not "
    f"{' or '.join(_describe(t).split(',')[0] for t in ordered)}."
  )


def _default_type(default) -> type | None:
  if default is None or default is inspect.Parameter.empty:
    return None
  return dict if isinstance(default, Mapping) else type(default)


# --- Values --------------------------------------------------------------------------------------

_TRUE, _FALSE = ("true", "1"), ("false", "0")


def _describe(expected: type) -> str:
  if expected is bool:
    return "a bool (true/false, True/False or 1/0)"
  if issubclass(expected, numbers.Integral):
    return "an int"
  if issubclass(expected, numbers.Real):
    return "a float (an int is fine too)"
  if issubclass(expected, str):
    return "a string"
  if issubclass(expected, tuple | list):
    return f"a {expected.__name__}, e.g. (64, 64) or 64,64 (one element: (64,))"
  if issubclass(expected, Mapping):
    return "a dict literal, e.g. \"{'name': ..., 'option': ...}\""
  return f"a {expected.__name__}"


def _bad_value(key: str, value, expected: type, example=_MISSING) -> ConfigError:
  message = (
    f"Bad value for config key {key!r}: {value!r} is not {_describe(expected)}, the field's type."
  )
  if example not in (_MISSING, None, inspect.Parameter.empty) and not isinstance(
    example, _GROUP_TYPES
  ):
    text = str(example).lower() if isinstance(example, bool) else str(example)
    message += f" Write e.g. {shlex.quote(f'--config.{key}={text}')}."
  return ConfigError(message)


def _literal(text: str):
  try:
    return ast.literal_eval(text.strip())
  except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
    return _MISSING


def _parse(key: str, text: str, expected: type | None, example):
  """`text` as a value of type `expected`."""
  if expected is None:
    value = _literal(text)
    return text if value is _MISSING else value
  stripped = text.strip()
  if expected is bool:
    if stripped.lower() in _TRUE:
      return True
    if stripped.lower() in _FALSE:
      return False
    raise _bad_value(key, text, expected, example)
  if issubclass(expected, str):
    return text
  if stripped == "None":  # e.g. ring8's num_examples=None; a field may hold None
    return None
  if issubclass(expected, numbers.Integral):
    try:
      return int(stripped)
    except ValueError:
      raise _bad_value(key, text, expected, example) from None
  if issubclass(expected, numbers.Real):
    try:
      return float(stripped)
    except ValueError:
      raise _bad_value(key, text, expected, example) from None
  value = _literal(text)
  for group in (tuple | list, Mapping):  # the literal must be of the field's kind
    if issubclass(expected, group) and not isinstance(value, group):
      raise _bad_value(key, text, expected, example)
  return text if value is _MISSING else value


def _check(key: str, value, expected: type | None, example=_MISSING):
  """`value` converted to `expected` where that loses nothing (int -> float, list -> tuple)."""
  if expected is None or value is None:
    return value
  if expected is bool:
    ok = isinstance(value, bool)
  elif issubclass(expected, numbers.Integral):
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    value = int(value) if ok else value
  elif issubclass(expected, numbers.Real):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    value = float(value) if ok else value
  elif issubclass(expected, str):
    ok = isinstance(value, str)
  elif issubclass(expected, tuple | list):
    ok = isinstance(value, tuple | list)
    value = expected(value) if ok else value
  elif issubclass(expected, Mapping):
    ok = isinstance(value, _GROUP_TYPES)
  else:
    ok = True  # a type this module does not know: ConfigDict's own check decides
  if not ok:
    raise _bad_value(key, value, expected, example)
  return value


def _convert(key: str, value, expected: type | None, parse_strings: bool, example=_MISSING):
  if isinstance(value, _BareFlag) and expected is not bool:
    what = "a value" if expected is None else _describe(expected).split(",")[0]
    raise ConfigError(
      f"--config.{key} needs a value: write --config.{key}=VALUE (only bool fields may be given "
      f"as --config.KEY / --noconfig.KEY; {key!r} takes {what})."
    )
  if parse_strings and isinstance(value, str):
    value = _parse(key, value, expected, example)
  return _check(key, value, expected, example)


# --- Applying -------------------------------------------------------------------------------------


def _split_key(key: str) -> tuple[str, ...]:
  parts = tuple(key.split("."))
  if not key or any(not part for part in parts):
    raise ConfigError(
      f"Bad config key {key!r}: write dotted field names, e.g. --config.data.options.std=0.02."
    )
  return parts


def _set_field(config, parts: tuple[str, ...], value, parse_strings: bool):
  """Sets a key that is not a named block's option; returns the value set."""
  key = _dotted(parts)
  node = _group(config, parts[:-1], parts)
  leaf = parts[-1]
  if leaf in node:
    expected, example = _field_type(node, leaf), node[leaf]
  elif _new_block_allowed(parts):
    # A whole named block the config file lacks, e.g. a discriminator for a VAE made a VAE-GAN.
    expected, example = dict, _MISSING
  elif (owners := _algorithms_reading(parts)) and config.algorithm.get("name") in owners:
    # A key of the algorithm named by an earlier override (--config.algorithm.name=unrolled
    # --config.algorithm.unroll_steps=5): typed by its declared default, checked by its Option.
    example = _declared_default(config, parts)
    expected = _default_type(example) if example is not _MISSING else None
  elif owners:
    raise ConfigError(
      f"Unknown config key {key!r} for algorithm {config.algorithm.get('name')!r}: it is an option "
      f"of {', '.join(map(repr, owners))}. To switch, give --config.algorithm.name=NAME before it."
    )
  else:
    raise _unknown_key(parts, len(parts) - 1, node)
  declared = _declared_types(config, parts)
  if declared is not None:
    if parse_strings and isinstance(value, str) and not isinstance(value, _BareFlag):
      value = _parse_union(key, value, declared)
    elif not isinstance(value, declared):
      raise ConfigError(
        f"Bad value for config key {key!r}: {value!r} is not one of the types "
        f"{[t.__name__ for t in declared]} that the algorithm declares for it."
      )
    with _unlocked(node):  # the declared types may differ from the config file's value's type
      if leaf in node:
        del node[leaf]
    _assign(node, leaf, value, key)
    return value
  if parse_strings and expected is dict and _block_at(parts) is not None and _is_bare_name(value):
    value = {"name": value.strip()}  # `--config.algorithm.penalty=r1`: the block by its name
  value = _convert(key, value, expected, parse_strings, example)
  _assign(node, leaf, value, key)
  return value


def _algorithms_reading(parts: tuple[str, ...]) -> list[str]:
  """The algorithms that declare the option `algorithm.<key>`."""
  from jaxgen.run import config_check  # noqa: PLC0415 (config_check imports the algorithms)

  if len(parts) != 2 or parts[0] != "algorithm":
    return []
  return config_check.algorithms_reading(parts[1])


def _is_bare_name(value) -> bool:
  return (
    isinstance(value, str) and not isinstance(value, _BareFlag) and value.strip().isidentifier()
  )


def _new_block_allowed(parts: tuple[str, ...]) -> bool:
  block = _block_at(parts)
  # New optimizer blocks only for the players the algorithms have, so a typo is still refused.
  return block is not None and (parts[0] != "optimizer" or parts[1] in _network_roles())


def _resolve(block: _Block, name) -> dict[str, Any] | None:
  """The options of the block's `name`; a ConfigError names the valid names."""
  kind = block.make_kind()
  choices = kind.choices()
  if name not in choices:
    match = _closest(str(name), choices) if isinstance(name, str) else None
    hint = f"; did you mean {match!r}?" if match else "."
    given = "no name" if name is _MISSING else repr(name)
    raise ConfigError(
      f"Unknown {kind.label} {given} (config key {_dotted(block.name_path)!r}){hint} "
      f"Choose one of: {', '.join(choices)}."
    )
  return kind.options(name)


def _unknown_option(block: _Block, name: str, option: str, valid) -> ConfigError:
  kind = block.make_kind()
  match = _closest(option, valid)
  hint = f"; did you mean {match!r}?" if match else "."
  return ConfigError(
    f"Unknown config key {_dotted((*block.path, option))!r}: {option!r} is not an option of the "
    f"{kind.label} {name!r}{hint} Valid options: {', '.join(sorted(valid))}."
  )


# Block names that stand for "nothing here": their options are placeholders (the penalty "none"
# takes weight = 0 only), so a new name gets its own defaults rather than keeping them.
_PLACEHOLDER_NAMES = ("none",)


def _update_block(
  config, block, explicit, replaced, old_name, parse_strings, notices, by_name=False
) -> None:
  """Checks and sets the options of one named block after every plain override is in place.
  `by_name`: the block was given by its name alone (`--config.algorithm.penalty=r1`)."""
  node = _group(config, block.path, (*block.path, next(iter(explicit), "name")))
  name = _get(config, block.name_path)
  renamed = old_name is not _MISSING and name != old_name and not replaced
  if not (explicit or replaced or renamed):
    return
  valid = _resolve(block, name)
  if valid is not None:
    for option in explicit:
      if option not in valid:
        raise _unknown_option(block, name, option, valid)
    others = [k for k in node if k not in explicit and not (block.self_named and k == "name")]
    unfit = [k for k in others if k not in valid]
    if replaced and unfit:
      raise _unknown_option(block, name, unfit[0], valid)
    if renamed and unfit:
      dropped = ", ".join(f"{k}={node[k]!r}" for k in unfit)
      with _unlocked(node):
        for k in unfit:
          del node[k]
      notices.append(
        f"{_dotted(block.path)}: {old_name} -> {name} drops {dropped} (not options of {name})"
      )
    from_placeholder = renamed and old_name in _PLACEHOLDER_NAMES
    if from_placeholder:
      with _unlocked(node):
        for k in others:
          if k in node:
            del node[k]
    if from_placeholder or by_name:  # the user saw no options: say which defaults apply
      defaults = {
        k: v
        for k, v in valid.items()
        if k not in node and k not in explicit and v is not inspect.Parameter.empty
      }
      for k, v in defaults.items():  # written out, so that config.json records what runs
        _assign(node, k, v, _dotted((*block.path, k)))
      if defaults:
        listed = ", ".join(f"{k}={v!r}" for k, v in defaults.items())
        notices.append(f"{_dotted(block.path)}: {name} with its defaults {listed}")
    if replaced:  # the literal's values were not typed against the options yet
      for k in others:
        key = _dotted((*block.path, k))
        _assign(node, k, _check(key, node[k], _default_type(valid[k]), valid[k]), key)
  for option, value in explicit.items():
    key = _dotted((*block.path, option))
    if option in node:
      expected, example = _field_type(node, option), node[option]
    else:
      example = valid.get(option, _MISSING) if valid is not None else _MISSING
      expected = _default_type(example) if example is not _MISSING else None
    _assign(node, option, _convert(key, value, expected, parse_strings, example), key)


def apply_overrides(
  config, overrides: Mapping[str, Any], *, parse_strings: bool = False
) -> list[str]:
  """Sets the dotted keys of `overrides` in `config` (locked or not), in order, with checks.

  Args:
    config: an `ml_collections.ConfigDict`.
    overrides: {dotted key: value}, e.g. {"num_steps": 5, "data.options.std": 0.02}.
    parse_strings: values are raw command-line strings, parsed by the type of the field they
      replace; False: values are typed already (an int given for a float field is converted).

  Returns:
    The notice lines: per named block whose name change dropped options of the old name, and per
    block given by its name alone (or renamed from "none") whose options take their defaults.

  Raises:
    ConfigError: an unknown key, name or option (with the valid ones and the closest match), a
      value of the wrong type, or an option the block's (new) name does not take.
  """
  blocks = _blocks_in(config)
  old_names = {path: _get(config, block.name_path) for path, block in blocks.items()}
  options: dict[tuple[str, ...], dict[str, tuple[int, Any]]] = {}
  replaced: dict[tuple[str, ...], int] = {}  # path -> position of the last dict set there
  by_name: set[tuple[str, ...]] = set()  # blocks given by a bare name
  for index, (key, value) in enumerate(overrides.items()):
    parts = _split_key(key)
    option = _option_key(parts)
    if option is not None:  # checked once every name is final
      block, name = option
      options.setdefault(block.path, {})[name] = (index, value)
      continue
    new = _set_field(config, parts, value, parse_strings)
    if parts == ("imports",):  # the user's components, before the keys that name them
      from jaxgen import registry  # noqa: PLC0415

      registry.import_components(config)
    if isinstance(new, _GROUP_TYPES):
      replaced[parts] = index
      if parse_strings and _is_bare_name(value):
        by_name.add(parts)
      else:
        by_name.discard(parts)
  notices: list[str] = []
  blocks = _blocks_in(config)
  paths = sorted(set(blocks) | set(options))
  for path in paths:
    block = blocks.get(path) or _block_at(path)
    # A dict set at the block or above it replaces the options given before it.
    last_dict = max((i for p, i in replaced.items() if path[: len(p)] == p), default=-1)
    explicit = {
      option: value for option, (index, value) in options.get(path, {}).items() if index > last_dict
    }
    old_name = old_names.get(path, _MISSING)
    _update_block(
      config, block, explicit, last_dict >= 0, old_name, parse_strings, notices, path in by_name
    )
  return notices
