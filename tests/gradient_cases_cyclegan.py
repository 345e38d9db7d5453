"""CycleGAN's four players against losses built by hand from Zhu et al. 2017 (float64).

Translators G (translator_ab), F (translator_ba), both on one loss (eq. 3 + the identity term of
sec. 5.2), each net run on its own inputs here (the library batches [a; b] through one call):
  L = w [1/2 mean (D_B(G(a)) - 1)^2 + 1/2 mean (D_A(F(b)) - 1)^2]
    + lambda [mean |F(G(a)) - a| + mean |G(F(b)) - b|] + lambda_id lambda [mean |G(b) - b| +
    mean |F(a) - a|]
Discriminators: 1/2 mean (D_B(b) - 1)^2 + 1/2 mean D_B(x~)^2 with x~ the image pool's answer to
G(a), rebuilt here image by image in Python from the pool rule and the keys the algorithm states
(`cyclegan.POOL`, then fold_in(i), split into the swap and slot keys); likewise D_A with a, F(b).
The pool cases start from an empty pool (every fake fills and is shown) and from a full pool of
random images (about half the fakes are swapped for stored ones, so D's loss sees old images).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from cyclegan_tiny import tiny_cyclegan_config
from gradient_harness import GradientCase, RefusedCase

from jaxgen.algorithms import cyclegan
from jaxgen.errors import ConfigError


def _pool_by_hand(pool, count, fakes, rng):
  """The pool rule of Shrivastava et al. 2017 (CycleGAN sec. 4), one image at a time."""
  capacity, shown = pool.shape[0], []
  for i in range(fakes.shape[0]):
    swap_key, slot_key = jax.random.split(jax.random.fold_in(rng, i))
    if count < capacity:  # filling: store and show the fake
      pool = pool.at[count].set(fakes[i])
      count += 1
      shown.append(fakes[i])
    elif jax.random.uniform(swap_key) > 0.5:  # show a stored image, keep the fake in its slot
      slot = int(jax.random.randint(slot_key, (), 0, capacity))
      shown.append(pool[slot])
      pool = pool.at[slot].set(fakes[i])
    else:
      shown.append(fakes[i])
  return jnp.stack(shown)


def _references(algorithm, state, batch, rng, *, identity: float, adversarial: float):
  translator, critic = algorithm.translator, algorithm.critic.module
  players = state.players
  a, b = batch["image_a"], batch["image_b"]
  run = lambda params, x: translator.apply({"params": params}, x)
  d = lambda name, x, params=None: critic.apply(
    {"params": players[name].params if params is None else params}, x
  )
  mae = lambda x, y: jnp.mean(jnp.abs(x - y))

  def translators(g_params, f_params):
    g_a, f_b = run(g_params, a), run(f_params, b)
    gan = 0.5 * jnp.mean((d("discriminator_b", g_a) - 1) ** 2)
    gan = gan + 0.5 * jnp.mean((d("discriminator_a", f_b) - 1) ** 2)
    cycle = mae(run(f_params, g_a), a) + mae(run(g_params, f_b), b)
    same = mae(run(g_params, b), b) + mae(run(f_params, a), a)
    return adversarial * gan + 10.0 * cycle + identity * 10.0 * same

  def discriminator(name, real, fake, domain):
    pool = state.extra[f"pool_{domain}"]
    shown = _pool_by_hand(
      pool["images"], int(pool["count"]), fake, jax.random.fold_in(rng, cyclegan.POOL)
    )
    return lambda p: (
      0.5 * jnp.mean((d(name, real, p) - 1) ** 2) + 0.5 * jnp.mean(d(name, shown, p) ** 2)
    )

  g, f = players["translator_ab"].params, players["translator_ba"].params
  return {
    "translator_ab": lambda p: translators(p, f),
    "translator_ba": lambda p: translators(g, p),
    "discriminator_b": discriminator("discriminator_b", b, run(g, a), "b"),
    "discriminator_a": discriminator("discriminator_a", a, run(f, b), "a"),
  }


def _full_pools(algorithm, state):
  """Pools full of random images, so the query swaps."""
  extra = {}
  for i, (name, pool) in enumerate(sorted(state.extra.items())):
    images = jax.random.uniform(jax.random.key(100 + i), pool["images"].shape, jnp.float64, -1, 1)
    extra[name] = {"images": images, "count": jnp.asarray(pool["images"].shape[0], jnp.int32)}
  return state.replace(extra=extra)


def _case(label, *, identity=0.5, adversarial=2.0, prepare=None):
  config = lambda: tiny_cyclegan_config(
    **{"algorithm.identity_weight": identity, "algorithm.adversarial_weight": adversarial}
  )
  return GradientCase(
    "cyclegan",
    label,
    config,
    lambda *args: _references(*args, identity=identity, adversarial=adversarial),
    objective="least_squares",
    prepare=prepare,
    # The L1 terms have kinks where a translation equals the target pixel: digits pixels v / 8 - 1
    # are exactly 0 for v = 8 and the freshly initialised translators output about 0, so central
    # differences (eps 1e-6) can straddle a kink (seen: 3e-5 relative on translator_ab).
    fd_rtol=1e-3,
  )


def _refused(label, key, value, match, **varies):
  config = lambda: tiny_cyclegan_config(**{key: value})
  return RefusedCase("cyclegan", label, config, match, error=ConfigError, **varies)


CASES = [
  _case("empty-pool"),  # batch 4, capacity 3: three fakes fill it, the fourth may swap
  _case("full-pool-no-identity-w1", identity=0.0, adversarial=1.0, prepare=_full_pools),
  *(
    _refused(
      switch, f"algorithm.stabilisers.{switch}", value, rf"stabilisers\.{switch}", stabiliser=switch
    )
    for switch, value in (
      ("packing", 2),
      ("feature_matching", True),
      ("minibatch_discrimination", 2),
      ("historical_averaging", 1.0),
      ("replay_fraction", 0.5),
      ("generator_ema", 0.999),
    )
  ),
  _refused(
    "wgan_gp",
    "algorithm.penalty",
    {"name": "wgan_gp", "weight": 10.0},
    r"penalty\.name = 'wgan_gp' is not supported",
    penalty="wgan_gp",
  ),
]
