"""Scores of an unpaired translator pair G: A -> B, F: B -> A on held-out images of both domains:
arrays in, numbers out (the "translation" evaluator, `jaxgen.evaluators.translation`, translates
and draws).

- the cycle error |F(G(a)) - a|_1 and |G(F(b)) - b|_1 (`cycle_errors`);
- for a one-to-many transform (B has several variants of each image): the share of G(a) nearest
  (L2) to each variant T_v(a) (`variant_shares` of `nearest_variants`; real B has 1 /
  num_variants each), the diversity a deterministic G shows;
- label preservation (`label_accuracies`): a classifier's accuracy on F(G(a)) (`acc_cycle_a`) and
  on T^{-1}(G(a)) (`acc_translation_a`, G(a) mapped back by the data set's known inverse
  transform, which the model was never told; for a one-to-many transform by the variant nearest to
  G(a)), and the same from B (`acc_cycle_b` on T^{-1}(G(F(b))), `acc_translation_b` on F(b));
  `acc_real_b` on T^{-1}(b) is the ceiling a perfect translation reaches;
- FID per domain in the classifier's features (`domain_fids`): G(a) against real B (`fid_b`), F(b)
  against real A (`fid_a`), the references being training images of each domain.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jaxgen.data import unpaired
from jaxgen.metrics.classifier import accuracy
from jaxgen.metrics.evaluator import FeatureExtractor, extract
from jaxgen.metrics.fid import frechet_distance
from jaxgen.metrics.statistics import statistics_of


class Translations(NamedTuple):
  """Held-out images of both domains and what the translator pair makes of them."""

  a: np.ndarray
  b: np.ndarray
  g_a: np.ndarray  # G(a)
  f_b: np.ndarray  # F(b)
  fg_a: np.ndarray  # F(G(a))
  gf_b: np.ndarray  # G(F(b))


def nearest_variants(transform: str, num_variants: int, images_a, translated) -> np.ndarray:
  """For each G(a) in `translated`, the variant v of `transform` whose T_v(a) is nearest in L2."""
  candidates = [
    unpaired.inverse_transform(transform, images_a, v) for v in range(num_variants)
  ]  # T_v = T_v^{-1}: each variant is an involution
  distances = np.stack([np.sum((translated - c) ** 2, axis=(1, 2, 3)) for c in candidates], axis=1)
  return np.argmin(distances, axis=1)


def cycle_errors(t: Translations) -> dict[str, float]:
  """{"cycle_error_a": |F(G(a)) - a|_1, "cycle_error_b": |G(F(b)) - b|_1}, per-pixel means."""
  return {
    "cycle_error_a": float(np.mean(np.abs(t.fg_a - t.a))),
    "cycle_error_b": float(np.mean(np.abs(t.gf_b - t.b))),
  }


def variant_shares(variants, num_variants: int) -> dict[str, float]:
  """{"variant_share_<v>": the share of `variants` equal to v} for v < `num_variants`."""
  shares = np.bincount(variants, minlength=num_variants) / len(variants)
  return {f"variant_share_{v}": float(share) for v, share in enumerate(shares)}


def label_accuracies(
  extractor: FeatureExtractor,
  t: Translations,
  transform: str,
  variants_g,
  variants_b,
  labels_a,
  labels_b,
) -> dict[str, float]:
  """The classifier `extractor`'s accuracies of the module docstring; `variants_g`: the variant
  each G(a) is mapped back by (`nearest_variants`), `variants_b`: each real b's own."""
  # T_v^{-1} = T_v (involutions); G(a) by its nearest variant, B images by their own.
  inverse = lambda x, variants: unpaired.apply_transform(transform, x, variants)
  return {
    "acc_cycle_a": accuracy(extractor, t.fg_a, labels_a),
    "acc_translation_a": accuracy(extractor, inverse(t.g_a, variants_g), labels_a),
    "acc_cycle_b": accuracy(extractor, inverse(t.gf_b, variants_b), labels_b),
    "acc_translation_b": accuracy(extractor, t.f_b, labels_b),
    "acc_real_b": accuracy(extractor, inverse(t.b, variants_b), labels_b),
  }


def _fid(extractor: FeatureExtractor, real, fake) -> float:
  """FID of `fake` against `real` images in `extractor`'s features."""
  real_stats = statistics_of(extract(extractor, real)[0])
  fake_stats = statistics_of(extract(extractor, fake)[0])
  return frechet_distance(
    real_stats.mean, real_stats.covariance, fake_stats.mean, fake_stats.covariance
  )


def domain_fids(
  extractor: FeatureExtractor, t: Translations, reference_a, reference_b
) -> dict[str, float]:
  """{"fid_b": FID of G(a) against `reference_b`, "fid_a": of F(b) against `reference_a`} in
  `extractor`'s features (real images of each domain, e.g. training images)."""
  return {
    "fid_b": _fid(extractor, reference_b, t.g_a),
    "fid_a": _fid(extractor, reference_a, t.f_b),
  }
