"""InfoGAN's Q network as a hidden-layer head on the features a discriminator sows.

Chen et al. 2016, sec. 6 and app. C.1 (Table 1): Q shares all conv layers with D and adds
"FC.128-BN-lRELU" and then an FC layer to the codes' parameters (the authors' code,
openai/InfoGAN infogan/models/regularized_gan.py, `encoder_template`). The bases of `jaxgen.nn.gan`
sow their last conv's output before its norm and activation (`intermediates/features`), so this
head first completes that layer with a batch norm of its own and the activation, then adds the
hidden layer: features -> BN -> lReLU -> Dense(hidden) -> BN -> lReLU -> Dense(aux_outputs).
(`jaxgen.nn.gan_zoo.HeadedDiscriminator` is the linear head, aux = Dense(features).)
"""

from __future__ import annotations

import jax
from flax import linen as nn

from jaxgen.nn.gan import (
  BATCH_NORM_EPSILON,
  BATCH_NORM_MOMENTUM,
  DCGAN_KERNEL_INIT,
  LEAKY_RELU_SLOPE,
)
from jaxgen.nn.gan_zoo import sown_features


class HiddenQDiscriminator(nn.Module):
  """A discriminator plus InfoGAN's Q head with one hidden layer on the features it sows.

  Attributes:
    base: a discriminator `D(x, labels, *, train) -> logits [B]` that sows `features`.
    aux_outputs: the width of Q's output (the codes' logits and means), >= 1.
    hidden: the width of Q's hidden layer (Chen et al. 2016, Table 1: 128), >= 1.
    leaky_slope: the slope of Q's leaky ReLUs.

  Returns:
    (logits [B], aux [B, aux_outputs]), as `HeadedDiscriminator`.
  """

  base: nn.Module
  aux_outputs: int
  hidden: int = 128
  leaky_slope: float = LEAKY_RELU_SLOPE

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, *, train: bool):
    """(the base's logits [B], Q's code parameters [B, aux_outputs]) from its sown features."""
    for name in ("aux_outputs", "hidden"):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"HiddenQDiscriminator: {name} must be an int >= 1; got {value!r}.")
    logits = self.base(x, labels, train=train)
    sown = sown_features(
      self.base,
      f"Q's head reads the features that the base discriminator sows, and "
      f"{type(self.base).__name__} sows none: choose one that does ('dcgan', 'mlp', ...).",
    )

    def batch_norm(name):
      # The DCGAN batch norm of jaxgen.nn.gan (TensorFlow DCGAN's decay 0.9, epsilon 1e-5).
      return nn.BatchNorm(
        use_running_average=not train,
        momentum=BATCH_NORM_MOMENTUM,
        epsilon=BATCH_NORM_EPSILON,
        name=name,
      )

    # Per channel on conv features [B, H, W, C], as D's own norm of that layer; then flattened.
    h = nn.leaky_relu(batch_norm("q_features_norm")(sown[-1]), self.leaky_slope)
    h = h.reshape(x.shape[0], -1)
    # Chen et al. 2016, Table 1 (Q): FC.128-BN-lRELU, then FC to the codes' parameters; weights
    # N(0, 0.02^2) as the authors' custom_fully_connected.
    h = nn.Dense(self.hidden, use_bias=False, kernel_init=DCGAN_KERNEL_INIT, name="q_hidden")(h)
    h = nn.leaky_relu(batch_norm("q_hidden_norm")(h), self.leaky_slope)
    aux = nn.Dense(self.aux_outputs, kernel_init=DCGAN_KERNEL_INIT, name="aux_head")(h)
    return logits, aux
