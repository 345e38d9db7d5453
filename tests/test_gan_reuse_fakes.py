"""`algorithm.generator_reuses_fakes`: off by default (the train step unchanged), checked, and on
it changes only where G's latents come from (its gradient: `gradient_cases_gan`)."""

from __future__ import annotations

import hashlib

import jax
import ml_collections
import numpy as np
import pytest

from jaxgen import train
from jaxgen.algorithms import gan
from jaxgen.algorithms.base import make_train_step
from jaxgen.config_check import check_config
from jaxgen.configs import gan_ring8
from jaxgen.errors import ConfigError

# sha256 of the train state's leaves after 3 steps of gan_ring8, computed before the switch
# existed (/work/fp/fingerprint.py, jax 0.10.2 on this CPU): the default step is bit-identical.
GAN_RING8_3_STEPS = "37ed4c5a521061de"


def digest(tree) -> str:
  sha = hashlib.sha256()
  for leaf in jax.tree.leaves(tree):
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
      leaf = jax.random.key_data(leaf)
    sha.update(np.asarray(leaf).tobytes())
  return sha.hexdigest()[:16]


def three_steps(config):
  run = train.Run(config)
  state, step = run.init_state(), jax.jit(make_train_step(run.algorithm))
  for index in range(3):
    state, _ = step(state, run.batches(index))
  return state


def test_default_step_is_unchanged_bit_for_bit():
  config = gan_ring8.get_config()
  assert config.algorithm.generator_reuses_fakes is False
  assert digest(three_steps(config)) == GAN_RING8_3_STEPS


def test_switch_on_trains_another_trajectory():
  config = gan_ring8.get_config()
  config.algorithm.generator_reuses_fakes = True
  state = three_steps(config)
  assert digest(state) != GAN_RING8_3_STEPS
  assert all(np.isfinite(x).all() for x in jax.tree.leaves(state.players["generator"].params))


def test_check_refuses_a_non_bool():
  with pytest.raises(ValueError, match="must be True or False; got 'yes'"):
    gan.check_generator_reuses_fakes("yes")
  config = gan_ring8.get_config().to_dict()
  config["algorithm"]["generator_reuses_fakes"] = "yes"  # a ConfigDict typed anew, as from a file
  with pytest.raises(ConfigError, match=r"algorithm.generator_reuses_fakes = 'yes'"):
    check_config(ml_collections.ConfigDict(config))
