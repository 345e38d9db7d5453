"""Helpers of `test_behaviour.py`: several seeds of one config trained at once, a sharpness measure.

The mode-collapse and degradation tests reuse the scripts' own functions
(`scripts/mode_collapse_benchmark.py`, `scripts/degradation.py`, imported through `import_script`);
the autoencoder tests need the trained states (reconstructions, codes), which the benchmark's
`train_seeds` does not return, so `train_seed_states` below trains them.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import algorithms, data
from jaxgen.algorithms.base import init_train_state, make_train_step
from jaxgen.data.base import handed_data
from jaxgen.run.train import phase_batches

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def import_script(name: str):
  """The module of `scripts/<name>.py` (the scripts folder is not a package)."""
  if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))
  return importlib.import_module(name)


def train_seed_states(config, seeds, steps: int):
  """Trains `config` for `steps` steps from every seed in `seeds` at once: the library's
  `init_train_state` and `make_train_step` vmapped over the seeds, each seed fed the batches of a
  `scripts/train.py` run with that seed (`jaxgen.run.train.phase_batches`). A Python loop of jitted
  steps, not a `lax.scan`: a rolled scan around a conv backward pass is slow on XLA:CPU.

  Returns (algorithm, dataset, state), the state's leaves with a leading seed axis.
  """
  dataset = data.get(config.data.name, **dict(config.data.options))
  algorithm = algorithms.get(config.algorithm.name)(
    config, handed_data(dataset, config.seed, config.batch_size)
  )
  phases = len(algorithm.schedule)

  def batches(step):
    per_seed = [phase_batches(dataset, config, step, phases, seed=seed) for seed in seeds]
    return {k: jnp.asarray(np.stack([b[k] for b in per_seed])) for k in per_seed[0]}

  keys = jnp.stack([jax.random.key(seed) for seed in seeds])
  first = jax.tree.map(lambda x: x[:, 0], batches(0))
  state = jax.jit(jax.vmap(lambda key, batch: init_train_state(algorithm, key, batch)))(keys, first)
  step_fn = jax.jit(jax.vmap(make_train_step(algorithm)))
  for step in range(steps):
    state, _ = step_fn(state, batches(step))
  return algorithm, dataset, state


def per_seed(function, state, *args):
  """[function(state of seed s, *args) for each seed s], as numpy arrays (one jit, vmapped)."""
  return np.asarray(jax.jit(jax.vmap(function, in_axes=(0,) + (None,) * len(args)))(state, *args))


def high_frequency_share(images, cutoff: float = 0.25) -> np.ndarray:
  """Per image, the share of its spatial power spectrum (mean removed) at radial frequencies above
  `cutoff` cycles per pixel (the Nyquist limit is 0.5). Blur is a low-pass filter, so a blurrier
  image has a smaller share; the measure is scale-free (images in [-1, 1] or not).

  images: [N, H, W] or [N, H, W, 1]. Returns [N] in [0, 1].
  """
  images = np.asarray(images, np.float64)
  if images.ndim == 4:
    images = images[..., 0]
  images = images - images.mean(axis=(1, 2), keepdims=True)
  power = np.abs(np.fft.fft2(images)) ** 2
  fy = np.fft.fftfreq(images.shape[1])[:, None]
  fx = np.fft.fftfreq(images.shape[2])[None, :]
  high = np.sqrt(fx**2 + fy**2) > cutoff
  total = power.sum(axis=(1, 2))
  return power[:, high].sum(axis=1) / np.maximum(total, 1e-12)
