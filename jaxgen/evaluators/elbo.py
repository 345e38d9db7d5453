"""The "elbo" evaluator: the evidence lower bound of held-out examples under a VAE of the run
(`jaxgen.algorithms.vae.VAE` and its subclasses: the CVAE, the sparse VAE), the number a VAE is
trained on, measured on every held-out example (it never saw them).

Scores, in nats per example (higher is better, as the training metric `encoder/elbo`):
- "elbo": E_q[log p(x|z)] - KL(q(z|x) || p(z)), one draw of z per example (Kingma & Welling
  2014, eq. 10; `VAE.elbo`);
- with `importance_samples` = k > 1, "iwae_<k>": the k-sample importance-weighted bound L_k, which
  tightens towards log p(x) as k grows (Burda et al. 2016, eq. 8; `VAE.iwae_bound`).
A CVAE's bound is conditioned on the held-out labels.
"""

from __future__ import annotations

import functools

import jax

from jaxgen.algorithms.vae import VAE
from jaxgen.evaluators import BaseEvaluator, Context, per_example, register_evaluator
from jaxgen.evaluators.base import algorithm_class
from jaxgen.options import Option, integer

BATCH_SIZE = 500  # held-out examples per jitted call: bounds the memory of a large num_samples


@register_evaluator("elbo")
class HeldOutELBO(BaseEvaluator):
  """The ELBO (and the IWAE bound) of held-out examples under a VAE; see the module docstring."""

  OPTIONS = (
    Option(
      "importance_samples",
      0,
      "k of the importance-weighted bound also reported as iwae_<k> (Burda et al. 2016); 0: none",
      check=integer(0),
    ),
  )

  def __init__(self, config, options):
    """See `BaseEvaluator`; the bounds are jitted at the first call."""
    super().__init__(config, options)
    self._bounds = {}  # k (0: the ELBO) -> the jitted bound per example

  @classmethod
  def check(cls, options, algorithm, facts) -> None:
    """The algorithm is a VAE: it has a posterior q(z|x) and a likelihood p(x|z)."""
    built = algorithm_class(algorithm)
    if built is not None and not issubclass(built, VAE):
      raise ValueError(
        f"'elbo' needs a VAE (vae, sparse_vae), not {built.__name__}; for another "
        "autoencoder name 'reconstruction'."
      )
    if options.importance_samples == 1:
      raise ValueError("importance_samples = 1 is the ELBO itself; give 0 (none) or k >= 2.")

  def bound(self, algorithm: VAE, k: int):
    """The jitted bound per example: the ELBO (k = 0) or L_k."""
    if k not in self._bounds:
      if k:
        function = functools.partial(algorithm.iwae_bound, num_samples=k)
      else:
        function = functools.partial(algorithm.elbo, num_samples=1)
      self._bounds[k] = jax.jit(function)
    return self._bounds[k]

  def __call__(self, context: Context) -> dict[str, float]:
    """{"elbo"[, "iwae_<k>"]}: means over the held-out examples, nats per example."""
    k = self.options.importance_samples
    scores = {"elbo": self.mean_bound(context, 0)}
    if k:
      scores[f"iwae_{k}"] = self.mean_bound(context, k)
    return scores

  def mean_bound(self, context: Context, k: int) -> float:
    """The mean over the held-out examples of the ELBO (k = 0) or of L_k."""
    bound, held = self.bound(context.algorithm, k), context.data.every_held_out
    key = jax.random.key(context.data.seed)
    if context.algorithm.conditional:
      conditioned = lambda x, y: bound(context.state, x, key, labels=y)
      return float(per_example(conditioned, BATCH_SIZE, held["x"], held["y"]).mean())
    return float(per_example(lambda x: bound(context.state, x, key), BATCH_SIZE, held["x"]).mean())
