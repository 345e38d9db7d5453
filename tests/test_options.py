"""`jaxgen.options`: how a component declares the config keys it reads, and registration."""

import ml_collections
import pytest

from jaxgen.errors import ConfigError
from jaxgen.options import REQUIRED, Option, declared, integer, number, read_options, register_into


class Base:
  OPTIONS = (
    Option("steps", 5, "how many", check=integer(1)),
    Option("mode", "a", "which", choices=("a", "b")),
  )


class Child(Base):
  OPTIONS = (
    Option("steps", 7, "redeclared with another default", check=integer(1)),
    Option("weight", REQUIRED, "a weight", check=number(0)),
  )


def test_a_subclass_adds_to_its_bases_options_and_may_redeclare_one():
  options = declared(Child)
  assert list(options) == ["steps", "mode", "weight"]
  assert options["steps"].default == 7


def test_absent_keys_take_their_defaults_and_values_are_checked():
  section = ml_collections.ConfigDict({"weight": 2})
  values = read_options(Child, section)
  assert (values.steps, values.mode, values.weight) == (7, "a", 2.0)
  assert isinstance(values.weight, float)  # number() converts


@pytest.mark.parametrize(
  "section, message",
  [
    ({}, r"algorithm.weight is required \(a weight\)"),
    ({"weight": -1}, r"algorithm.weight = -1 is refused: must be a finite number in \[0, inf\]"),
    ({"weight": 1, "steps": 0}, r"algorithm.steps = 0 is refused: must be an integer >= 1"),
    ({"weight": 1, "steps": True}, "must be an integer"),
    ({"weight": 1, "mode": "c"}, r"algorithm.mode = 'c' is not one of \['a', 'b'\]"),
    ({"weight": 1, "mode": "bb"}, "Did you mean 'b'"),
  ],
)
def test_bad_values_are_refused_naming_the_key(section, message):
  with pytest.raises(ConfigError, match=message):
    read_options(Child, ml_collections.ConfigDict(section))


def test_a_block_options_choices_apply_to_its_name():
  option = Option("penalty", None, "a block", choices=("none", "r1"))
  assert option.validate({"name": "r1", "weight": 1.0}) == {"name": "r1", "weight": 1.0}
  with pytest.raises(ConfigError, match=r"algorithm.penalty.name = 'r2'"):
    option.validate({"name": "r2"})


def test_register_into_refuses_a_taken_name_but_not_the_same_component_again():
  registry = {}

  def first():
    pass

  def second():
    pass

  assert register_into(registry, "thing", "x", first) is first
  register_into(registry, "thing", "x", first)  # e.g. its module imported again
  with pytest.raises(ValueError, match="The thing name 'x' is taken by .*first"):
    register_into(registry, "thing", "x", second)
  assert registry == {"x": first}
