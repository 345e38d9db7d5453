"""The image pool of Shrivastava et al. 2017 (CycleGAN, Zhu et al. 2017, sec. 4): each D is shown
earlier fakes of its translator as well as the current ones, from a pool kept in `TrainState.extra`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxgen.algorithms.base import TrainState, Values

# fold_in tag of the pool's draws in a D's rng (the adversary's own tags are 1..3).
POOL = 4


def query_pool(pool, count, fakes, rng):
  """The image pool of Shrivastava et al. 2017 / CycleGAN sec. 4, image by image in batch order:
  while the pool holds fewer than its capacity, the fake is stored in slot `count` and shown; once
  full, with probability 1/2 (uniform(key_i) > 1/2) the fake takes the slot randint(key_i', 0,
  capacity) and the image stored there is shown, else the fake is shown. key_i, key_i' =
  split(fold_in(rng, i)). Returns (shown images, pool, count)."""
  capacity = pool.shape[0]

  def one(carry, inputs):
    """One fake through the pool: (pool, count), the image shown."""
    pool, count = carry
    index, fake = inputs
    swap_key, slot_key = jax.random.split(jax.random.fold_in(rng, index))
    filling = count < capacity
    swap = ~filling & (jax.random.uniform(swap_key) > 0.5)
    slot = jnp.where(filling, count, jax.random.randint(slot_key, (), 0, capacity))
    stored = pool[slot]
    pool = pool.at[slot].set(jnp.where(filling | swap, fake, stored))
    return (pool, count + filling.astype(count.dtype)), jnp.where(swap, stored, fake)

  indices = jnp.arange(fakes.shape[0])
  (pool, count), shown = jax.lax.scan(one, (pool, count), (indices, fakes.astype(pool.dtype)))
  return shown.astype(fakes.dtype), pool, count


class ImagePools:
  """The pools of an algorithm with `DISCRIMINATORS` {name: (domain, translator)}, `pool_size`
  and `example_shape`: one per D in `TrainState.extra["pool_<domain>"]`, updated from what each
  D's grad_fn returned (`values[name]["pool"]`, `["pool_count"]`)."""

  def init_extra(self) -> dict[str, Any]:
    """Each D's image pool (zeros, none of it filled yet)."""
    if not self.pool_size:
      return {}
    empty = lambda: {
      "images": jnp.zeros((self.pool_size, *self.example_shape)),
      "count": jnp.zeros([], jnp.int32),
    }
    return {f"pool_{domain}": empty() for domain, _ in self.DISCRIMINATORS.values()}

  def update_extra(self, state: TrainState, values: Values) -> dict[str, Any]:
    """The pools after the step: what each D's query left (its grad_fn's values)."""
    if not self.pool_size:
      return state.extra
    return {
      f"pool_{domain}": {"images": values[name]["pool"], "count": values[name]["pool_count"]}
      for name, (domain, _) in self.DISCRIMINATORS.items()
    }
