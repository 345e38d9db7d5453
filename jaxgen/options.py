"""Declared options: a component states, in the file that implements it, the config keys it reads.

    class UnrolledGAN(GAN):
      OPTIONS = (
        Option("unroll_steps", 5, "K, the lookahead steps of D (Metz et al. 2016, eq. 10)",
               check=check_unroll_steps),
      )

An `Option` carries the key's name, its default, a one-line doc, and how a value is checked: a
`check` (a function that returns the value, converted, or raises ValueError) and/or `choices` (the
valid values; for a block option `{"name": ..., **options}`, the valid names). Everything else is
derived from these declarations: `read_options` (what the component's constructor gets),
`jaxgen.run.config_check` (the schema of keys and the value checks), `jaxgen.run.overrides` (which
algorithm reads a key), and the catalogue (`python -m jaxgen.catalogue`).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
from collections.abc import Callable, Collection, Mapping
from typing import Any

import numpy as np

from jaxgen.errors import ConfigError

__all__ = [
  "REQUIRED",
  "Option",
  "choices_of",
  "declared",
  "flag",
  "integer",
  "number",
  "read_options",
  "register_into",
  "validated_by",
]

_MISSING = object()


class _Required:
  def __repr__(self) -> str:
    return "REQUIRED"


REQUIRED = _Required()  # the default of an option a config must set


@dataclasses.dataclass(frozen=True)
class Option:
  """One config key a component reads.

  Attributes:
    name: the key, e.g. "unroll_steps" (read from the component's config section).
    default: its value when the config leaves it out.
    doc: one line for the catalogue and the docs' option tables.
    check: value -> value (converted), raising ValueError on a bad value; None: no check here.
    choices: the valid values (a collection, or a function returning one, for registries that
      fill up at import); for a block option (a dict with "name"), the valid names.
    types: the types a command-line string may parse as, where the default's type does not say
      (AdaGAN's beta: a heuristic's name or a number); () : the default's type.
  """

  name: str
  default: Any
  doc: str
  check: Callable[[Any], Any] | None = None
  choices: Collection[Any] | Callable[[], Collection[Any]] | None = None
  types: tuple[type, ...] = ()

  def valid_choices(self) -> Collection[Any] | None:
    """The valid values now (`choices`, called if a function), or None: any value."""
    return choices_of(self.choices)

  def validate(self, value: Any, owner: str = "") -> Any:
    """`value` checked against the choices and by `check`; a ConfigError names the key."""
    key = f"algorithm.{self.name}" if not owner else f"{owner}.{self.name}"
    choices = self.valid_choices()
    if choices is not None:
      named = value.get("name") if isinstance(value, Mapping) or hasattr(value, "keys") else value
      if not _is_member(named, choices):
        where = f"{key}.name" if named is not value else key
        close = difflib.get_close_matches(str(named), [str(c) for c in choices], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
          f"{where} = {named!r} is not one of {sorted(map(str, choices))}.{hint} "
          f"Set {where} to one of them."
        )
    if self.check is None:
      return value
    try:
      return self.check(value)
    except ConfigError:
      raise
    except (TypeError, ValueError) as error:
      shown = value.to_dict() if hasattr(value, "to_dict") else value
      raise ConfigError(f"{key} = {shown!r} is refused: {error}") from None


def validated_by(build: Callable[[Any], Any]) -> Callable[[Any], Any]:
  """A check that builds the value's object (to refuse bad options early) and keeps the value."""

  def check(value: Any) -> Any:
    build(value)
    return value

  return check


def choices_of(choices) -> Collection[Any] | None:
  """`choices` as a collection: called if it is a function (a registry read late), else as is."""
  return choices() if callable(choices) else choices


def _is_member(value, choices) -> bool:
  try:
    return value in choices
  except TypeError:  # an unhashable value in a dict of choices
    return False


def declared(component: type) -> dict[str, Option]:
  """Every option `component` declares, its base classes' first (a subclass may redeclare one)."""
  options: dict[str, Option] = {}
  for klass in reversed(getattr(component, "__mro__", (component,))):
    for option in vars(klass).get("OPTIONS", ()):
      options[option.name] = option
  return options


def read_options(component: type, section, owner: str = "algorithm") -> types.SimpleNamespace:
  """The values of `component`'s declared options in the config section `section` (absent keys
  take their defaults), each checked; the constructor reads them as attributes."""
  values = {}
  for name, option in declared(component).items():
    value = section.get(name, _MISSING) if section is not None else _MISSING
    if value is _MISSING and option.default is REQUIRED:
      raise ConfigError(f"{owner}.{name} is required ({option.doc}); set it in the config.")
    values[name] = option.default if value is _MISSING else option.validate(value, owner)
  return types.SimpleNamespace(**values)


def register_into(registry: dict, kind: str, name: str, component: Any) -> Any:
  """`registry[name] = component`, refusing a name another component holds (the same component
  registered again, e.g. when its module is reloaded, is fine); returns `component`."""
  known = registry.get(name)
  if known is not None and known is not component and _identity(known) != _identity(component):
    raise ValueError(
      f"The {kind} name {name!r} is taken by {_identity(known)}; register yours under another name."
    )
  registry[name] = component
  return component


def _identity(component: Any) -> str:
  """Module and qualified name of a class or function; the repr of anything else."""
  qualname = getattr(component, "__qualname__", None)
  return f"{component.__module__}.{qualname}" if qualname else repr(component)


def number(low: float = -math.inf, high: float = math.inf, *, open_low: bool = False):
  """A check: a finite number (not a bool) in [low, high] ((low, high] with `open_low`)."""

  def check(value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and (low < value if open_low else low <= value) and value <= high):
      interval = f"{'(' if open_low else '['}{low}, {high}]"
      raise ValueError(f"must be a finite number in {interval}; got {value!r}.")
    return float(value)

  return check


def integer(minimum: int):
  """A check: an integer (not a bool) >= `minimum`."""

  def check(value: Any) -> int:
    if not (isinstance(value, int | np.integer) and not isinstance(value, bool)) or value < minimum:
      raise ValueError(f"must be an integer >= {minimum}; got {value!r}.")
    return int(value)

  return check


def flag(value: Any) -> bool:
  """A check: True or False."""
  if not isinstance(value, bool | np.bool_):
    raise ValueError(f"must be True or False; got {value!r}.")
  return bool(value)
