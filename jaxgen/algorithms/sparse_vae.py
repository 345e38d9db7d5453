"""Variational Sparse Coding: the VAE with spike-and-slab codes (Tonolini, Jensen & Murray-Smith
2019, arXiv 1903.02819, UAI 2019).

Prior and posterior, per latent coordinate j:
  p(z_j)   = alpha N(z_j; 0, 1) + (1 - alpha) delta(z_j)
  q(z_j|x) = gamma_j N(z_j; mu_j, sigma_j^2) + (1 - gamma_j) delta(z_j),
the encoder giving mu, log sigma^2 and the logit of gamma. Both players descend the negative ELBO
  -L(x) = -E_q[log p(x|z)] + KL(q(z|x) || p(z))
with the KL in closed form (eq. 6, `losses.sparse_coding.spike_and_slab_kl`) and one draw of the
relaxed reparameterisation z = sigmoid(c (eta - 1 + gamma)) (mu + sigma eps) (the relaxed spike of
their code's `_sample_from_gaussian_dist`), exactly as
`VAE` does with the Gaussian pieces (same players, phase, shared noise).

Config (`algorithm.*`): `slab_probability` alpha in (0, 1); `selector_sharpness` c > 0 (the
authors' code uses 100); `spike_warmup_steps` >= 0: the authors' spike warm-up, where the slab's
mean and log-variance are scaled by lambda = min(step / spike_warmup_steps, 1) in the training
draw, so that early on only the selection carries information (0: off). Left out: the learnt
pseudo-input prior and its aggregate-sparsity term of the authors' full model (code
`vae_ss_ss_vamp_ept_sp.py`: the recognition model "recycled" on pseudo-inputs as the prior); the
prior here is the fixed spike-and-slab.

Where we differ from the authors' code: gamma = sigmoid(logit) rather than log gamma =
-relu(-h) (which reaches gamma = 1 exactly, where log(1 - gamma) needs their 1e-6 guard); the KL
is the same function of gamma.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxgen import losses
from jaxgen.algorithms.base import TrainState, register
from jaxgen.algorithms.vae import VAE
from jaxgen.losses import sparse_coding
from jaxgen.options import REQUIRED, Option, read_options


def check_selector_sharpness(value) -> float:
  """A check of `algorithm.selector_sharpness`: c, a number > 0, as a float."""
  if not (isinstance(value, int | float) and not isinstance(value, bool) and value > 0):
    raise ValueError(
      f"the selector's sharpness c must be a number > 0 (the authors use 100); got {value!r}."
    )
  return float(value)


def check_spike_warmup_steps(value) -> int:
  """A check of `algorithm.spike_warmup_steps`: an int >= 0 (0: no warm-up)."""
  if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
    raise ValueError(f"spike_warmup_steps must be an int >= 0 (0: no warm-up); got {value!r}.")
  return value


@register("sparse_vae")
class SparseVAE(VAE):
  """The spike-and-slab VAE; see the module docstring."""

  OPTIONS = (
    Option(
      "slab_probability",
      REQUIRED,
      "alpha, the prior's slab probability in (0, 1)",
      check=sparse_coding.check_slab_probability,
    ),
    Option(
      "selector_sharpness",
      100.0,
      "c of the relaxed selector (the authors' 100)",
      check=check_selector_sharpness,
    ),
    Option(
      "spike_warmup_steps", 0, "steps of the spike warm-up, 0: none", check=check_spike_warmup_steps
    ),
  )

  def __init__(self, config, dataset):
    options = read_options(type(self), config.algorithm)
    self.slab_probability = options.slab_probability
    self.selector_sharpness = options.selector_sharpness
    self.spike_warmup_steps = options.spike_warmup_steps
    super().__init__(config, dataset, spike_and_slab=True)

  def slab_scale(self, step):
    """lambda of the spike warm-up: min(step / spike_warmup_steps, 1), or 1 without warm-up."""
    if self.spike_warmup_steps == 0:
      return 1.0
    return jnp.minimum(step / self.spike_warmup_steps, 1.0)

  def encode_train(self, params, state: TrainState, x, labels, key):
    """z by the relaxed reparameterisation (Tonolini et al. 2019), in training mode; returns
    (z, (mean, log_variance, spike_logits), the encoder's new model state)."""
    posterior, encoder_state = self.run(
      self.encoder, params["encoder"], state, "encoder", x, labels
    )
    z = sparse_coding.relaxed_spike_and_slab_sample(
      key, *posterior, self.selector_sharpness, self.slab_scale(state.step)
    )
    return z, posterior, encoder_state

  def posterior_kl(self, mean, log_variance, spike_logits):
    """KL(q(z|x) || p(z)) between spike-and-slabs in closed form (Tonolini et al. 2019, eq. 6)."""
    return sparse_coding.spike_and_slab_kl(mean, log_variance, spike_logits, self.slab_probability)

  def posterior_sample(self, rng, posterior, num_samples: int):
    """k exact draws [k, B, d] of q(z|x): zero on the spike (evaluation; training relaxes it)."""
    broadcast = lambda a: jnp.broadcast_to(a, (num_samples, *a.shape))
    return sparse_coding.spike_and_slab_sample(rng, *map(broadcast, posterior))

  def posterior_log_density(self, z, posterior):
    """log q(z|x) w.r.t. Lebesgue plus a point mass at 0, [k, B]."""
    return sparse_coding.spike_and_slab_log_density(z, *posterior, batch_ndims=2)

  def prior_log_density(self, z):
    """log p(z) of the spike-and-slab prior (mu = 0, sigma = 1, gamma = alpha), [k, B]."""
    logit = jnp.log(self.slab_probability) - jnp.log1p(-self.slab_probability)
    return sparse_coding.spike_and_slab_log_density(z, spike_logits=logit, batch_ndims=2)

  def prior_samples(self, rng, num):
    """z ~ p(z) = prod_j (alpha N(0, 1) + (1 - alpha) delta) (Tonolini et al. 2019)."""
    return losses.sample_spike_and_slab(rng, num, self.latent_dim, self.slab_probability)

  def slab_probabilities(self, state: TrainState, x, labels=None) -> jax.Array:
    """gamma(x) [B, d], the posterior probability that each coordinate is on the slab."""
    return jax.nn.sigmoid(self.encode(state, x, labels)[2])

  def code(self, state: TrainState, x, labels=None):
    """The most probable selection with the slab means: mu_j where gamma_j > 1/2, else exactly 0
    (the sparse code figures decode and the sparsity counts use); inference mode."""
    mean, _, spike_logits = self.encode(state, x, labels)
    return jnp.where(spike_logits > 0.0, mean, 0.0)
