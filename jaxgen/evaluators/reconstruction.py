"""The "reconstruction" evaluator: how well an autoencoder of the run (`jaxgen.algorithms.vae.
Autoencoder`: VAE, CVAE, sparse VAE, VAE-GAN, AAE, WAE) reconstructs every held-out example from
its code, the deterministic code that figures decode (`Autoencoder.code`: the
mean of q(z|x), or a deterministic encoder's code). It needs no feature extractor.

Scores, means per held-out example:
- "reconstruction": the algorithm's own reconstruction term (`algorithm.reconstruction`):
  -log p(x|z) in nats for a Bernoulli or Gaussian decoder, WAE's squared error c(x, y);
- "pixel_mse": the mean squared pixel error of Dec(code(x)) against x, images in [-1, 1]: one
  unit for every autoencoder, whatever its reconstruction term.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxgen.algorithms.vae import Autoencoder
from jaxgen.evaluators import BaseEvaluator, Context, per_example, register_evaluator
from jaxgen.evaluators.base import algorithm_class
from jaxgen.nn import autoencoder as ae_nets

BATCH_SIZE = 500  # held-out examples per jitted call: bounds the memory of a large num_samples


@register_evaluator("reconstruction")
class HeldOutReconstruction(BaseEvaluator):
  """Held-out reconstruction errors of an autoencoder; see the module docstring."""

  def __init__(self, config, options):
    """See `BaseEvaluator`; the errors are jitted at the first call."""
    super().__init__(config, options)
    self._errors = None  # (state, x, labels) -> [batch, 2] errors, jitted on first use

  @classmethod
  def check(cls, options, algorithm, facts) -> None:
    """The algorithm is an autoencoder: it encodes and decodes."""
    built = algorithm_class(algorithm)
    if built is not None and not issubclass(built, Autoencoder):
      raise ValueError(
        f"'reconstruction' needs an autoencoder (vae, sparse_vae, vaegan, aae, wae), not "
        f"{built.__name__}."
      )

  @staticmethod
  def errors(algorithm: Autoencoder, state, x, labels=None) -> jax.Array:
    """[batch, 2]: the reconstruction term and the mean squared pixel error of each example."""
    logits = algorithm.decode_logits(state, algorithm.code(state, x, labels), labels)
    squared = jnp.square(ae_nets.logits_to_image(logits) - x)
    pixel_mse = jnp.mean(squared.reshape((x.shape[0], -1)), axis=1)
    return jnp.stack([algorithm.reconstruction(x, logits), pixel_mse], axis=-1)

  def __call__(self, context: Context) -> dict[str, float]:
    """{"reconstruction", "pixel_mse"} of the held-out examples (with their labels when the
    autoencoder is conditional)."""
    algorithm, held = context.algorithm, context.data.every_held_out
    if self._errors is None:
      self._errors = jax.jit(lambda state, x, labels: self.errors(algorithm, state, x, labels))
    if algorithm.conditional:
      conditioned = lambda x, y: self._errors(context.state, x, y)
      errors = per_example(conditioned, BATCH_SIZE, held["x"], held["y"])
    else:
      errors = per_example(lambda x: self._errors(context.state, x, None), BATCH_SIZE, held["x"])
    reconstruction, pixel_mse = errors.mean(axis=0)
    return {"reconstruction": float(reconstruction), "pixel_mse": float(pixel_mse)}
