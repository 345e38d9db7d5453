"""Fixtures shared by the test modules."""

import subprocess

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


@pytest.fixture
def small_disk(tmp_path):
  """A 2 MiB tmpfs: a real file system that really runs out of space (needs root)."""
  mount_point = tmp_path / "disk"
  mount_point.mkdir()
  mounted = subprocess.run(
    ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
    capture_output=True,
    text=True,
    check=False,
  )
  if mounted.returncode != 0:
    pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
  yield mount_point
  subprocess.run(["umount", "-l", str(mount_point)], check=False)
