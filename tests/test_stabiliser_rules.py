"""The one rule of which stabiliser an algorithm may use, and where each family stands."""

import dataclasses
import importlib

import pytest

from jaxgen import algorithms, data, errors, stabilisers
from jaxgen.algorithms import stabiliser_rules as rules

SWITCHES = [f.name for f in dataclasses.fields(stabilisers.Stabilisers)]
ON = {
  "label_smoothing": 0.1,
  "instance_noise": 0.1,
  "instance_noise_anneal_steps": 10,
  "packing": 2,
  "feature_matching": True,
  "historical_averaging": 0.01,
  "minibatch_discrimination": 3,
  "replay_fraction": 0.25,
  "replay_capacity": 64,
  "spectral_norm": True,
  "generator_ema": 0.99,
}


def test_every_switch_and_need_has_a_rule_and_a_reason():
  assert set(rules.NEEDS) == {*SWITCHES, "penalty"}
  assert set(ON) == set(SWITCHES)
  for needs in rules.NEEDS.values():
    assert set(needs) <= set(rules.REASONS)


@pytest.mark.parametrize("switch", [s for s in SWITCHES if rules.NEEDS[s]])
def test_a_switch_whose_needs_are_missing_is_refused_with_its_key_and_reason(switch):
  s = stabilisers.Stabilisers(**{switch: ON[switch]})
  with pytest.raises(errors.ConfigError) as raised:
    rules.check_stabilisers("algorithm 'x'", frozenset(), s)
  message = str(raised.value)
  assert f"algorithm.stabilisers.{switch} = {ON[switch]!r}" in message
  assert "algorithm 'x'" in message and "Turn it off" in message
  rules.check_stabilisers("algorithm 'x'", frozenset(rules.NEEDS[switch]), s)  # all provided


def test_a_penalty_beside_minibatch_discrimination_names_both():
  s = stabilisers.Stabilisers(minibatch_discrimination=3)
  everything = frozenset(rules.REASONS)
  with pytest.raises(errors.ConfigError, match="minibatch_discrimination = 3.*Turn one off"):
    rules.check_stabilisers("algorithm 'gan'", everything, s, "r1")
  rules.check_stabilisers("algorithm 'gan'", everything, s)


def _build(name, **overrides):
  config = importlib.import_module(f"jaxgen.configs.{name}").get_config()
  for key, value in overrides.items():
    section, _, leaf = key.rpartition(".")
    (config.algorithm[section] if section else config.algorithm)[leaf] = value
  dataset = data.get(config.data.name, **dict(config.data.options))
  return algorithms.get(config.algorithm.name)(config, dataset)


# (config, switch): accepted where the algorithm wires it in, refused where it does not.
@pytest.mark.parametrize(
  "name, key, value, accepted",
  [
    ("aae_digits", "stabilisers.spectral_norm", True, True),
    ("aae_digits", "stabilisers.instance_noise", 0.1, True),
    ("aae_digits", "stabilisers.label_smoothing", 0.1, True),
    ("aae_digits", "penalty", {"name": "wgan_gp", "weight": 10.0}, True),
    ("aae_digits", "stabilisers.historical_averaging", 0.1, False),
    ("aae_digits", "stabilisers.replay_fraction", 0.5, False),
    ("vaegan_digits", "stabilisers.spectral_norm", True, True),
    ("vaegan_digits", "stabilisers.instance_noise", 0.1, True),
    ("vaegan_digits", "stabilisers.label_smoothing", 0.1, False),
    ("vaegan_digits", "stabilisers.packing", 2, False),
    ("ebgan_ring8", "stabilisers.label_smoothing", 0.1, False),
    ("ebgan_ring8", "stabilisers.spectral_norm", True, True),
    ("madgan_ring8", "stabilisers.packing", 4, False),
    ("madgan_ring8", "stabilisers.minibatch_discrimination", 3, True),
  ],
)
def test_where_each_family_stands(name, key, value, accepted):
  if accepted:
    algorithm = _build(name, **{key: value})
    if key.startswith("stabilisers."):
      assert getattr(algorithm.critic.stabilisers, key.partition(".")[2]) == value
    else:
      assert algorithm.adversary.penalty is not None
  else:
    with pytest.raises(errors.ConfigError, match=f"algorithm.{key} = .* is not supported by"):
      _build(name, **{key: value})


def test_a_self_normalised_discriminator_refuses_the_spectral_norm_switch():
  with pytest.raises(errors.ConfigError, match="already spectrally normalises.*Turn it off"):
    _build("sagan_digits", **{"stabilisers.spectral_norm": True})
