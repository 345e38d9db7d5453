"""Fixtures shared by the test modules."""

import jax
import jax.numpy as jnp
import pytest

from jaxgen import algorithms, data
from jaxgen.algorithms.base import init_train_state


@pytest.fixture(scope="session")
def setup_algorithm():
  """config -> (algorithm, its initial train state, the first training batch). A factory rather
  than the triple itself, so that a test can build the algorithm of a config it has changed."""

  def setup(config):
    dataset = data.get(config.data.name, **dict(config.data.options))
    algorithm = algorithms.get(config.algorithm.name)(config, dataset)
    batch = {k: jnp.asarray(v) for k, v in dataset.batch(0, 0, config.batch_size).items()}
    return algorithm, init_train_state(algorithm, jax.random.key(0), batch), batch

  return setup
