"""GAN objectives on discriminator logits, each with its paper and equation.

Every GAN objective is a pair `(discriminator_loss, generator_loss)` of functions of logits that
the players *minimise*. Sigmoid GAN losses are written with `softplus` so they stay finite for any
logit: log D(x) = log sigmoid(l) = -softplus(-l) and log(1 - D(x)) = -softplus(l).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array


def discriminator_minimax_loss(real_logits: Array, fake_logits: Array) -> Array:
  """-(E[log D(x)] + E[log(1 - D(G(z)))]), the negated value V(D, G).

  Goodfellow et al. 2014, eq. 1: D ascends V, i.e. descends this loss.
  """
  return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


def generator_minimax_loss(fake_logits: Array) -> Array:
  """E[log(1 - D(G(z)))], the saturating generator loss of the minimax game.

  Goodfellow et al. 2014, eq. 1 (G descends V). Its gradient vanishes where D(G(z)) -> 0.
  """
  return -jnp.mean(jax.nn.softplus(fake_logits))


def generator_non_saturating_loss(fake_logits: Array) -> Array:
  """-E[log D(G(z))], the non-saturating generator loss.

  Goodfellow et al. 2014, sec. 3: G maximises log D(G(z)) instead, for strong early gradients.
  """
  return jnp.mean(jax.nn.softplus(-fake_logits))


class GanObjective(NamedTuple):
  """A GAN objective: the losses the discriminator and the generator each minimise."""

  discriminator_loss: Callable[[Array, Array], Array]
  generator_loss: Callable[[Array], Array]


GAN_OBJECTIVES: dict[str, GanObjective] = {
    "minimax": GanObjective(discriminator_minimax_loss, generator_minimax_loss),
    "non_saturating": GanObjective(discriminator_minimax_loss, generator_non_saturating_loss),
}


def get_gan_objective(name: str) -> GanObjective:
  """The GAN objective called `name`; the error lists the valid names."""
  if name not in GAN_OBJECTIVES:
    raise ValueError(f"Unknown GAN loss {name!r}; choose one of {sorted(GAN_OBJECTIVES)}.")
  return GAN_OBJECTIVES[name]
