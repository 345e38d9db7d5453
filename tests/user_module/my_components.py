"""A researcher's own components, registered from outside the jaxgen package (jaxgen.registry).

A data set, a GAN objective, a discriminator, an algorithm and an evaluator:
`tests/test_user_components.py` names this file in `config.imports` and trains, resumes and
evaluates with all of them; nothing in jaxgen mentions them.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import losses, registry
from jaxgen.algorithms import GAN
from jaxgen.data import GaussianMixture
from jaxgen.evaluators import BaseEvaluator
from jaxgen.nn.traits import LOGIT, NetworkTraits
from jaxgen.options import Option, number


@registry.register_dataset("three_blobs")
def three_blobs(spacing: float = 2.0, std: float = 0.05, data_seed: int = 0) -> GaussianMixture:
  """Three Gaussians on a line, `spacing` apart (mode coverage reads their centres)."""
  centres = np.array([[-spacing, 0.0], [0.0, 0.0], [spacing, 0.0]], np.float32)
  return GaussianMixture("three_blobs", centres, std, 10_000, data_seed)


def _d_loss(real_logits, fake_logits):
  """Least squares with targets 1 / -1 (a toy objective: 1/2 E[(D(x) - 1)^2 + (D(G(z)) + 1)^2])."""
  return 0.5 * jnp.mean(jnp.square(real_logits - 1.0)) + 0.5 * jnp.mean(
    jnp.square(fake_logits + 1.0)
  )


def _g_loss(fake_logits, real_logits):
  """1/2 E[(D(G(z)) - 1)^2] (D on the real batch unread)."""
  return 0.5 * jnp.mean(jnp.square(fake_logits - 1.0))


registry.register_objective("symmetric_least_squares", losses.GanObjective(_d_loss, _g_loss))


class TanhMLP(nn.Module):
  """A tanh MLP discriminator: one logit per sample."""

  hidden: tuple[int, ...] = (32, 32)
  num_classes: int = 0
  traits = NetworkTraits(("discriminator",), LOGIT)

  @nn.compact
  def __call__(self, x, labels=None, *, train: bool):
    del labels, train
    for width in self.hidden:
      x = jnp.tanh(nn.Dense(width)(x))
    self.sow("intermediates", "features", x)
    return nn.Dense(1)(x)[:, 0]


@registry.register_network("discriminator", "tanh_mlp", TanhMLP, sets=("num_classes",))
def tanh_mlp(example_shape, num_classes, **options):
  return TanhMLP(num_classes=num_classes, **options)


@registry.register_algorithm("noisy_gan")
class NoisyGAN(GAN):
  """A GAN whose generator's samples get Gaussian noise of `sample_noise` std when sampled."""

  OPTIONS = (Option("sample_noise", 0.0, "std of noise added to samples", check=number(0)),)

  def sample(self, state, rng, num, labels=None):
    samples = super().sample(state, rng, num, labels)
    noise = jax.random.normal(jax.random.fold_in(rng, 99), samples.shape)
    return samples + self.options.sample_noise * noise


@registry.register_evaluator("spread")
class Spread(BaseEvaluator):
  """The samples' standard deviation along x (three blobs `spacing` apart: about 0.8 spacing)."""

  def __call__(self, context):
    return {"spread_x": float(np.std(context.samples[:, 0]))}
