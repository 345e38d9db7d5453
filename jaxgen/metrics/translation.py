"""Scores of an unpaired translator pair G: A -> B, F: B -> A on held-out images of both domains.

- label preservation: the classifier's (`eval.extractor`, e.g. digits_classifier) accuracy on
  F(G(a)) (`acc_cycle_a`) and on T^{-1}(G(a)) (`acc_translation_a`, G(a) mapped back by the data
  set's known inverse transform, which the model was never told; for a one-to-many transform by
  the variant nearest to G(a)), and the same from B (`acc_cycle_b` on T^{-1}(G(F(b))),
  `acc_translation_b` on F(b)); `acc_real_b` on T^{-1}(b) is the ceiling a perfect translation
  reaches;
- FID per domain in the classifier's features: G(a) against real B (`fid_b`), F(b) against real A
  (`fid_a`), the references being the training images of each domain (`eval.num_reference`);
- the cycle error |F(G(a)) - a|_1 and |G(F(b)) - b|_1 (`cycle_error_a`, `cycle_error_b`);
- for a one-to-many transform (B has several variants of each image): the share of G(a) nearest
  (L2) to each variant T_v(a) (`variant_share_<v>`; real B has 1 / num_variants each), the
  diversity a deterministic G shows.

Picture: rows a, G(a), F(G(a)) and b, F(b), G(F(b)) of the first `grid_count` held-out images.
"""

from __future__ import annotations

import jax
import numpy as np

from jaxgen import plots
from jaxgen.data import unpaired
from jaxgen.metrics.classifier import accuracy
from jaxgen.metrics.evaluator import extract, get_extractor
from jaxgen.metrics.fid import frechet_distance
from jaxgen.metrics.statistics import statistics_of


def _fid(extractor, real, fake) -> float:
  real_stats = statistics_of(extract(extractor, real)[0])
  fake_stats = statistics_of(extract(extractor, fake)[0])
  return frechet_distance(
    real_stats.mean, real_stats.covariance, fake_stats.mean, fake_stats.covariance
  )


def nearest_variants(dataset, images_a, translated) -> np.ndarray:
  """For each G(a) in `translated`, the variant v whose T_v(a) is nearest in L2."""
  candidates = [
    unpaired.inverse_transform(dataset.transform, images_a, v) for v in range(dataset.num_variants)
  ]  # T_v = T_v^{-1}: each variant is an involution
  distances = np.stack([np.sum((translated - c) ** 2, axis=(1, 2, 3)) for c in candidates], axis=1)
  return np.argmin(distances, axis=1)


def evaluate(run, state, evaluation, picture, title: str) -> dict[str, float]:
  """The scores of the module docstring for `run`'s translators at `state`; writes `picture`."""
  config, dataset, algorithm = run.config, run.dataset, run.algorithm
  held = dataset.eval_data(int(config.eval.num_samples), seed=config.seed + 1)
  translate = jax.jit(algorithm.translate, static_argnums=2)
  g = lambda x: np.asarray(translate(state, x, "translator_ab"))
  f = lambda x: np.asarray(translate(state, x, "translator_ba"))
  a, b = held["image_a"], held["image_b"]
  g_a, f_b = g(a), f(b)
  fg_a, gf_b = f(g_a), g(f_b)
  # T_v^{-1} = T_v (involutions); G(a) by its nearest variant, B images by their own.
  inverse = lambda x, variants: unpaired.apply_transform(dataset.transform, x, variants)
  variants_g = nearest_variants(dataset, a, g_a)
  variants_b = held["variant_b"]
  scores = {
    "cycle_error_a": float(np.mean(np.abs(fg_a - a))),
    "cycle_error_b": float(np.mean(np.abs(gf_b - b))),
  }
  if dataset.num_variants > 1:
    shares = np.bincount(variants_g, minlength=dataset.num_variants) / len(variants_g)
    scores |= {f"variant_share_{v}": float(share) for v, share in enumerate(shares)}
  if picture is not None:
    k = evaluation.grid_count
    rows = [a[:k], g_a[:k], fg_a[:k], b[:k], f_b[:k], gf_b[:k]]
    plots.save_image_grid(np.concatenate(rows), picture, k, title)
  if not config.eval.get("extractor"):
    return scores
  extractor = get_extractor(config.eval.extractor, config.eval.get("extractor_weights") or None)
  labels_a, labels_b = held["label_a"], held["label_b"]
  scores |= {
    "acc_cycle_a": accuracy(extractor, fg_a, labels_a),
    "acc_translation_a": accuracy(extractor, inverse(g_a, variants_g), labels_a),
    "acc_cycle_b": accuracy(extractor, inverse(gf_b, variants_b), labels_b),
    "acc_translation_b": accuracy(extractor, f_b, labels_b),
    "acc_real_b": accuracy(extractor, inverse(b, variants_b), labels_b),
  }
  reference = dataset.batch(0, 0, min(int(config.eval.num_reference), dataset.num_examples))
  scores["fid_b"] = _fid(extractor, reference["image_b"], g_a)
  scores["fid_a"] = _fid(extractor, reference["image_a"], f_b)
  return scores
