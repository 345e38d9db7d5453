"""Fixtures shared by the test modules."""

import os
import subprocess
import tempfile

import jax
import jax.numpy as jnp
import pytest

from jaxgen import algorithms, data
from jaxgen.algorithms.base import init_train_state
from jaxgen.data.base import handed_data

# Compiled programs persist across the tests, xdist workers and subprocesses of a run (JAX's
# persistent compilation cache): many tests train the same tiny configs, and an executable read
# from the cache is the one compiling the same HLO with the same options gives, so no result
# changes. JAXGEN_TEST_XLA_CACHE names another folder, or "off".
_CACHE = os.environ.get("JAXGEN_TEST_XLA_CACHE", "")
if _CACHE != "off":
  _CACHE = _CACHE or os.path.join(tempfile.gettempdir(), f"jaxgen-test-xla-cache-{os.getuid()}")
  os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", _CACHE)  # subprocesses read these
  os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
  jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


@pytest.fixture
def x64():
  """Float64 for this test only; the global setting is restored afterwards."""
  with jax.enable_x64(True):
    yield
  assert jnp.ones(1).dtype == jnp.float32


@pytest.fixture(scope="session")
def setup_algorithm():
  """config -> (algorithm, its initial train state, the first training batch). A factory rather
  than the triple itself, so that a test can build the algorithm of a config it has changed."""

  def setup(config):
    dataset = data.get(config.data.name, **dict(config.data.options))
    algorithm = algorithms.get(config.algorithm.name)(
      config, handed_data(dataset, config.seed, config.batch_size)
    )
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
