"""GAN stabilisers: switches in `config.algorithm.stabilisers` that compose with any objective.

Each is off by default (no silent smoothing, noise or averaging) and is a pure function here; the
GAN class (`jaxgen.algorithms.gan`) calls them at the right places:

- `label_smoothing` s: D's real target becomes 1 - s, fake targets stay 0 (one-sided; Salimans et
  al. 2016, sec. 3.4). Only for objectives with targets (minimax, non_saturating, least_squares).
- `instance_noise` sigma, `instance_noise_anneal_steps` T: N(0, sigma_t^2) noise on every input of
  D, real and fake, in both players' losses, sigma_t = sigma max(0, 1 - t / T) (Sonderby et al.
  2017; Arjovsky & Bottou 2017).
- `packing` m: D judges m samples at once, concatenated (PacGAN, Lin et al. 2018); a batch of B
  gives D B / m packs, so PacGAN's "batch 100" of packs is batch_size = 100 m here.
- `feature_matching`: G's loss is ||E f(x) - E f(G(z))||^2 on D's sown features (Salimans et al.
  2016, sec. 3.1).
- `historical_averaging` w: w ||theta - (1/t) sum_i theta[i]||^2 added to each player's loss
  (Salimans et al. 2016, sec. 3.3).
- `minibatch_discrimination` B: B closeness features feed D's output (Salimans et al. 2016,
  sec. 3.2; `jaxgen.nn.gan_zoo.HeadedDiscriminator`).
- `replay_fraction` r, `replay_capacity` N: a share r of D's fakes come from a ring buffer of N
  past fakes (experience replay; Shrivastava et al. 2017, sec. 2.3).
- `spectral_norm`: every weight of D divided by its largest singular value (Miyato et al. 2018).
- `generator_ema` d: evaluation samples come from an exponential moving average of G's weights
  (Yazici et al. 2019).

TTUR (Heusel et al. 2017) needs no switch: each player has its own optimizer config, so the two
time scales are `config.optimizer.discriminator.learning_rate` and `...generator.learning_rate`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.errors import ConfigError

Array = jax.Array

# Miyato et al. 2018: one power iteration per update suffices when u persists between updates.
POWER_ITERATIONS = 1
# Normalising the power-iteration vectors: guards the division when W u = 0.
POWER_ITERATION_EPSILON = 1e-12
SPECTRAL_VECTORS = "spectral_vectors"  # the model_state collection that holds u per weight


def default_config() -> ml_collections.ConfigDict:
  """Every stabiliser off; a config sets `config.algorithm.stabilisers = default_config()`."""
  return ml_collections.ConfigDict(dataclasses.asdict(Stabilisers()))


@dataclasses.dataclass(frozen=True)
class Stabilisers:
  """The validated stabiliser switches (see the module docstring)."""

  label_smoothing: float = 0.0
  instance_noise: float = 0.0
  instance_noise_anneal_steps: int = 0
  packing: int = 1
  feature_matching: bool = False
  historical_averaging: float = 0.0
  minibatch_discrimination: int = 0
  replay_fraction: float = 0.0
  replay_capacity: int = 10_000
  spectral_norm: bool = False
  generator_ema: float = 0.0

  def __post_init__(self):
    _check_number("label_smoothing", self.label_smoothing, 0.0, 1.0, upper_open=True)
    _check_number("instance_noise", self.instance_noise, 0.0, math.inf)
    _check_int("instance_noise_anneal_steps", self.instance_noise_anneal_steps, 0)
    _check_int("packing", self.packing, 1)
    _check_bool("feature_matching", self.feature_matching)
    _check_number("historical_averaging", self.historical_averaging, 0.0, math.inf)
    _check_int("minibatch_discrimination", self.minibatch_discrimination, 0)
    _check_number("replay_fraction", self.replay_fraction, 0.0, 1.0)
    _check_int("replay_capacity", self.replay_capacity, 1)
    _check_bool("spectral_norm", self.spectral_norm)
    _check_number("generator_ema", self.generator_ema, 0.0, 1.0, upper_open=True)

  @classmethod
  def from_config(cls, config) -> Stabilisers:
    """From `config.algorithm.stabilisers` (a mapping, possibly absent: all off)."""
    options = dict(config or {})
    valid = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(options) - valid)
    if unknown:
      raise ValueError(f"Unknown stabilisers {unknown}; choose from {sorted(valid)}.")
    return cls(**options)


def check_config(config):
  """`config.algorithm.stabilisers` checked one switch at a time, so that a refusal names its key;
  returns it unchanged."""
  for field in (config or {}).keys():
    try:
      Stabilisers(**{field: config[field]})
    except (TypeError, ValueError) as error:
      raise ConfigError(
        f"algorithm.stabilisers.{field} = {config[field]!r} is out of range: {error}"
      ) from None
  return config


def _check_number(name, value, low, high, upper_open=False):
  ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
  ok = ok and low <= value and (value < high if upper_open else value <= high)
  if not ok:
    interval = f"[{low}, {high})" if upper_open else f"[{low}, {high}]"
    raise ValueError(f"stabilisers.{name} must be a number in {interval}; got {value!r}.")


def _check_int(name, value, minimum):
  if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
    raise ValueError(f"stabilisers.{name} must be an integer >= {minimum}; got {value!r}.")


def _check_bool(name, value):
  if not isinstance(value, bool):
    raise ValueError(f"stabilisers.{name} must be True or False; got {value!r}.")


# --- PacGAN packing ------------------------------------------------------------------------------


def pack(x: Array, m: int) -> Array:
  """[B, ..., C] -> [B / m, ..., m C]: each packed sample is m consecutive samples concatenated
  along the last axis (features; channels of images), D's input in PacGAN (Lin et al. 2018)."""
  if x.shape[0] % m:
    raise ValueError(f"Packing m={m} needs a batch divisible by m; got batch {x.shape[0]}.")
  grouped = x.reshape(x.shape[0] // m, m, *x.shape[1:])
  return jnp.moveaxis(grouped, 1, -2).reshape(*grouped.shape[:1], *x.shape[1:-1], m * x.shape[-1])


# --- Instance noise ------------------------------------------------------------------------------


def instance_noise_std(step: Array, std: float, anneal_steps: int) -> Array:
  """sigma_t = sigma max(0, 1 - t / T), linear annealing to 0 (instance noise, Sonderby et al.
  2017); a constant sigma when T = 0."""
  if anneal_steps == 0:
    return jnp.asarray(std, jnp.float32)
  return std * jnp.maximum(0.0, 1.0 - step / anneal_steps)


# --- Historical averaging and the EMA of the generator -------------------------------------------


def running_mean(mean, params, count: Array):
  """The mean of params over count + 1 steps from the mean over count: m + (theta - m) / (n + 1)."""
  return jax.tree.map(lambda m, p: m + (p - m) / (count + 1), mean, params)


def historical_averaging_penalty(params, mean, count: Array, weight: float) -> Array:
  """w ||theta - (1/t) sum_i theta[i]||^2 over all parameters (Salimans et al. 2016, sec. 3.3);
  0 before any history exists (count = 0)."""
  squares = jax.tree.map(lambda p, m: jnp.sum(jnp.square(p - m)), params, mean)
  return jnp.where(count > 0, weight * sum(jax.tree.leaves(squares)), 0.0)


def ema_update(ema, params, decay: float):
  """e_t = d e_{t-1} + (1 - d) theta_t, from e_0 = 0 (the EMA of Yazici et al. 2019)."""
  return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema, params)


def debiased_ema(ema, params, count: Array, decay: float):
  """e_t / (1 - d^t), the zero-initialised EMA without its bias towards 0 (Kingma & Ba 2015,
  sec. 3); `params` itself before the first update (t = 0)."""
  correction = 1.0 - jnp.power(decay, count)
  return jax.tree.map(
    lambda e, p: jnp.where(count > 0, e / jnp.maximum(correction, 1e-30), p), ema, params
  )


# --- Experience replay ---------------------------------------------------------------------------


def replay_push(buffer: Array, count: Array, samples: Array) -> Array:
  """Writes `samples` into the ring buffer at positions count, count + 1, ... (mod capacity)."""
  positions = (count + jnp.arange(samples.shape[0])) % buffer.shape[0]
  return buffer.at[positions].set(samples.astype(buffer.dtype))


def replay_mix(fake: Array, buffer: Array, count: Array, fraction: float, rng: Array) -> Array:
  """D's fakes with the first round(r B) replaced by past fakes drawn uniformly from the filled
  part of the buffer (Shrivastava et al. 2017, sec. 2.3); unchanged while the buffer is empty."""
  num = round(fraction * fake.shape[0])
  if num == 0:
    return fake
  filled = jnp.minimum(count, buffer.shape[0])
  indices = jax.random.randint(rng, (num,), 0, jnp.maximum(filled, 1))
  replayed = jnp.where(filled > 0, buffer[indices].astype(fake.dtype), fake[:num])
  return jnp.concatenate([replayed, fake[num:]])


# --- Spectral normalisation as a parameter transform ---------------------------------------------


def init_spectral_vectors(params: Any, rng: Array) -> dict[str, Array]:
  """A random unit vector u [out] for every weight (every leaf of rank >= 2), keyed by path."""
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(params), sep="/")
  weights = {path: leaf for path, leaf in flat.items() if leaf.ndim >= 2}
  vectors = {}
  for index, path in enumerate(sorted(weights)):
    u = jax.random.normal(jax.random.fold_in(rng, index), (weights[path].shape[-1],))
    vectors[path] = u / jnp.linalg.norm(u)
  return vectors


def spectral_normalise(params: Any, vectors: dict[str, Array], steps: int = POWER_ITERATIONS):
  """Every weight W divided by sigma(W), estimated by power iteration; returns (params, vectors).

  Miyato et al. 2018, Algorithm 1, for the [in, out] matrix M = W^T of flax's layout (conv
  kernels reshaped to [kh kw in, out]):
  v <- M u / ||M u||, u <- M^T v / ||M^T v||, sigma = v^T M u; u and v are constants to the
  gradient (the paper's d sigma / d W = u v^T with u, v fixed).
  """
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(params), sep="/")
  missing = sorted(path for path, leaf in flat.items() if leaf.ndim >= 2 and path not in vectors)
  if missing:
    raise ValueError(f"No spectral-norm vector for the weights {missing}.")
  new_vectors = {}
  for path, u in vectors.items():
    matrix = flat[path].reshape(-1, flat[path].shape[-1])
    for _ in range(steps):
      v = matrix @ u
      v = v / (jnp.linalg.norm(v) + POWER_ITERATION_EPSILON)
      u = matrix.T @ v
      u = u / (jnp.linalg.norm(u) + POWER_ITERATION_EPSILON)
    u, v = jax.lax.stop_gradient(u), jax.lax.stop_gradient(v)
    sigma = v @ matrix @ u
    flat[path] = flat[path] / sigma
    new_vectors[path] = u
  return flax.traverse_util.unflatten_dict(flat, sep="/"), new_vectors
