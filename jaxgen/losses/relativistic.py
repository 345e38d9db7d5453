"""Relativistic average GAN objectives (Jolicoeur-Martineau 2019), on the critic's raw outputs C(x).

D estimates how much more realistic a real sample is than the average fake, and vice versa:
D~(x_r) = sigmoid(C(x_r) - E_f C(x_f)) and D~(x_f) = sigmoid(C(x_f) - E_r C(x_r)) (sec. 4.3). Both
players' losses therefore read C on real *and* fake data: unlike the other objectives, the
generator's loss needs D's outputs on the real batch (`GanObjective.generator_needs_real`). The
expectations are batch means; the generator's loss takes `(fake_logits, real_logits)`.

The paper's equations carry no weights on the two terms; the authors' code (AlexiaJM/
RelativisticGAN, `GAN_losses_iter.py`) halves each loss, a constant factor left out here.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def _relative(real_logits: Array, fake_logits: Array) -> tuple[Array, Array]:
  """C(x_r) - E_f C(x_f) and C(x_f) - E_r C(x_r) (Jolicoeur-Martineau 2019, sec. 4.3, D~)."""
  return real_logits - jnp.mean(fake_logits), fake_logits - jnp.mean(real_logits)


def discriminator_rasgan_loss(real_logits: Array, fake_logits: Array) -> Array:
  """-E_r[log D~(x_r)] - E_f[log(1 - D~(x_f))], D's RaSGAN loss.

  Jolicoeur-Martineau 2019, sec. 4.3 (L_D^RaSGAN); -log sigmoid(t) = softplus(-t) and
  -log(1 - sigmoid(t)) = softplus(t) keep it finite for any logit.
  """
  real_rel, fake_rel = _relative(real_logits, fake_logits)
  return jnp.mean(jax.nn.softplus(-real_rel)) + jnp.mean(jax.nn.softplus(fake_rel))


def generator_rasgan_loss(fake_logits: Array, real_logits: Array) -> Array:
  """-E_f[log D~(x_f)] - E_r[log(1 - D~(x_r))], G's RaSGAN loss (the roles of real and fake swap).

  Jolicoeur-Martineau 2019, sec. 4.3 (L_G^RaSGAN), in softplus form as above.
  """
  real_rel, fake_rel = _relative(real_logits, fake_logits)
  return jnp.mean(jax.nn.softplus(-fake_rel)) + jnp.mean(jax.nn.softplus(real_rel))


def discriminator_ralsgan_loss(real_logits: Array, fake_logits: Array) -> Array:
  """E_r[(C(x_r) - E_f C(x_f) - 1)^2] + E_f[(C(x_f) - E_r C(x_r) + 1)^2], D's RaLSGAN loss.

  Jolicoeur-Martineau 2019, appendix (L_D^RaLSGAN: the RaGAN pair of sec. 4.3 with
  f1(y) = (y - 1)^2, f2(y) = (y + 1)^2).
  """
  real_rel, fake_rel = _relative(real_logits, fake_logits)
  return jnp.mean(jnp.square(real_rel - 1.0)) + jnp.mean(jnp.square(fake_rel + 1.0))


def generator_ralsgan_loss(fake_logits: Array, real_logits: Array) -> Array:
  """E_f[(C(x_f) - E_r C(x_r) - 1)^2] + E_r[(C(x_r) - E_f C(x_f) + 1)^2], G's RaLSGAN loss.

  Jolicoeur-Martineau 2019, appendix (L_G^RaLSGAN).
  """
  real_rel, fake_rel = _relative(real_logits, fake_logits)
  return jnp.mean(jnp.square(fake_rel - 1.0)) + jnp.mean(jnp.square(real_rel + 1.0))
