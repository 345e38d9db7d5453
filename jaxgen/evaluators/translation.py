"""The "translation" evaluator: a translator pair G: A -> B, F: B -> A (the algorithm's
`translate(state, images, player)` with players "translator_ab" and "translator_ba", e.g.
CycleGAN's) on `eval.num_samples` held-out images of each domain. Scores
(`jaxgen.metrics.translation`): the cycle errors, the variant shares of a one-to-many transform
and, with `eval.extractor` (a classifier), label preservation and FID per domain against the
first `eval.num_reference` training images of each domain.

Picture: rows a, G(a), F(G(a)) and b, F(b), G(F(b)) of the first `grid_count` held-out images,
each row labelled (`ROWS`).
"""

from __future__ import annotations

import jax
import numpy as np

from jaxgen.evaluators import BaseEvaluator, Context, FeatureSpace, register_evaluator
from jaxgen.metrics import get_extractor, translation
from jaxgen.options import Option, integer
from jaxgen.run import plots

# The picture's rows, top to bottom: each domain's inputs, their translations, and the cycles back.
ROWS = (
  "a: input (domain A)",
  "G(a): translated to B",
  "F(G(a)): reconstructed",
  "b: input (domain B)",
  "F(b): translated to A",
  "G(F(b)): reconstructed",
)


@register_evaluator("translation")
class Translation(BaseEvaluator):
  """Translates held-out images of both domains both ways; see the module docstring."""

  OPTIONS = (
    Option("grid_count", 8, "held-out images of each domain in the picture", check=integer(1)),
  )
  # The two-domain data set's transform (`jaxgen.data.unpaired`) and its number of variants.
  DATA_FACTS = ("transform", "num_variants")

  def __init__(self, config, options):
    """See `BaseEvaluator`; the jitted translation and the classifier are built at first use."""
    super().__init__(config, options)
    self._translate = None  # the jitted translation, built on first use
    self._extractor = None  # the classifier, loaded on first use
    self._space = None  # where the last call measured its classifier-based metrics

  @classmethod
  def check(cls, options, algorithm, facts) -> None:
    """The algorithm translates (`translate`)."""
    if not callable(getattr(algorithm, "translate", None)):
      raise ValueError("'translation' needs an algorithm with translators (e.g. 'cyclegan').")

  def translations(self, context: Context) -> translation.Translations:
    """The held-out images of both domains, translated and cycled back."""
    if self._translate is None:
      self._translate = jax.jit(context.algorithm.translate, static_argnums=2)
    g = lambda x: np.asarray(self._translate(context.state, x, "translator_ab"))
    f = lambda x: np.asarray(self._translate(context.state, x, "translator_ba"))
    held = context.data.held_out
    a, b = held["image_a"], held["image_b"]
    g_a, f_b = g(a), f(b)
    return translation.Translations(a, b, g_a, f_b, f(g_a), g(f_b))

  def __call__(self, context: Context) -> dict[str, float]:
    """The scores of the module docstring; the picture."""
    t = self.translations(context)
    transform, num_variants = context.data.facts["transform"], context.data.facts["num_variants"]
    variants_g = translation.nearest_variants(transform, num_variants, t.a, t.g_a)
    scores = translation.cycle_errors(t)
    if num_variants > 1:
      scores |= translation.variant_shares(variants_g, num_variants)
    if context.picture is not None:
      k = self.options.grid_count
      rows = [t.a[:k], t.g_a[:k], t.fg_a[:k], t.b[:k], t.f_b[:k], t.gf_b[:k]]
      plots.save_image_grid(np.concatenate(rows), context.picture, k, context.title, ROWS)
    if not self.config.eval.get("extractor"):
      return scores
    return scores | self.classified(context, t, variants_g)

  def classified(self, context: Context, t, variants_g) -> dict[str, float]:
    """Label preservation and FID per domain with the classifier `eval.extractor`."""
    eval_config = self.config.eval
    if self._extractor is None:
      self._extractor = get_extractor(
        eval_config.extractor, eval_config.get("extractor_weights") or None
      )
    held = context.data.held_out
    scores = translation.label_accuracies(
      self._extractor,
      t,
      context.data.facts["transform"],
      variants_g,
      held["variant_b"],
      held["label_a"],
      held["label_b"],
    )
    reference = context.data.training(int(eval_config.num_reference))
    scores |= translation.domain_fids(
      self._extractor, t, reference["image_a"], reference["image_b"]
    )
    dim, num_reference = self._extractor.feature_dim, len(reference["image_a"])
    self._space = FeatureSpace(eval_config.extractor, dim, len(t.a), num_reference, tuple(scores))
    return scores

  def feature_space(self) -> FeatureSpace | None:
    """The classifier's features, the held-out and the reference images of the last call."""
    return self._space
