"""Tests of jaxgen.theory.infogan_codes: the Hungarian code-to-class accuracy against brute force
over all one-to-one maps and hand cases, its chance level against exact enumeration, and the
agreement pipeline on synthetic generators whose code does (or does not) decide the class."""

import itertools
import math

import numpy as np
import pytest

from jaxgen.data import load_digits
from jaxgen.metrics import load_digits_classifier
from jaxgen.theory import infogan_codes as ic


def brute_force_accuracy(codes, classes, num_codes, num_classes):
  """max over injective maps of the matched fraction, by enumerating every map (small K, C)."""
  best = 0
  for image in itertools.permutations(range(max(num_codes, num_classes)), num_codes):
    # A code mapped to a class index >= num_classes matches nothing (the unmatched codes, K > C).
    best = max(best, sum(int(np.sum((codes == k) & (classes == c))) for k, c in enumerate(image)))
  return best / len(codes)


@pytest.mark.parametrize("num_codes,num_classes", [(2, 2), (3, 3), (4, 3), (3, 5), (5, 5)])
def test_hungarian_accuracy_matches_brute_force(num_codes, num_classes):
  rng = np.random.default_rng(num_codes * 10 + num_classes)
  for _ in range(10):
    n = int(rng.integers(1, 40))
    codes = rng.integers(0, num_codes, n)
    # Classes correlated with the codes, so the best map is not trivial.
    classes = np.where(rng.random(n) < 0.5, codes % num_classes, rng.integers(0, num_classes, n))
    expected = brute_force_accuracy(codes, classes, num_codes, num_classes)
    assert ic.hungarian_accuracy(codes, classes, num_codes, num_classes) == pytest.approx(expected)


def test_hungarian_accuracy_hand_cases():
  # A relabelled perfect clustering scores 1.
  assert ic.hungarian_accuracy([0, 0, 1, 1, 2], [2, 2, 0, 0, 1], 3, 3) == 1.0
  # One code for everything: only the largest class can be matched (3 of 5).
  assert ic.hungarian_accuracy([0] * 5, [1, 1, 1, 0, 2], 3, 3) == pytest.approx(3 / 5)
  # Two codes, three classes: code 0 takes class 0 or 1 (1 sample), code 1 class 2 (2 samples).
  assert ic.hungarian_accuracy([0, 0, 1, 1], [0, 1, 2, 2], 2, 3) == pytest.approx(3 / 4)
  # One-to-one: both codes prefer class 0 (3 and 2 samples); the matching gives code 0 class 0
  # and code 1 its second choice, class 1 (1 sample): 4 / 7, not 5 / 7.
  assert ic.hungarian_accuracy([0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1, 2], 2, 3) == pytest.approx(
    4 / 7
  )


def test_confusion_matrix_counts_and_rejects_bad_input():
  confusion = ic.confusion_matrix([0, 1, 1, 2], [1, 1, 1, 0], 3, 2)
  np.testing.assert_array_equal(confusion, [[0, 1], [0, 2], [1, 0]])
  with pytest.raises(ValueError, match="codes must be integers"):
    ic.confusion_matrix([0, 3], [0, 0], 3, 2)
  with pytest.raises(ValueError, match="same length|one length"):
    ic.confusion_matrix([0, 1], [0], 3, 2)


def test_chance_accuracy_matches_exact_enumeration():
  # Codes shuffled against the classes: the exact mean over all 6! orderings of the codes.
  codes = np.array([0, 0, 0, 1, 1, 1])
  classes = np.array([0, 0, 1, 1, 1, 0])
  scores = [
    ic.hungarian_accuracy(np.array(p), classes, 2, 2) for p in itertools.permutations(codes)
  ]
  mean, std = ic.chance_accuracy(codes, classes, 2, 2, num_shuffles=1500, seed=1)
  assert mean == pytest.approx(np.mean(scores), abs=4 * np.std(scores) / math.sqrt(1500))
  assert std == pytest.approx(np.std(scores), rel=0.1)
  assert mean > 0.5  # the matching is chosen after seeing the counts: chance is above 1 / K


@pytest.fixture(scope="module")
def digits_and_classify():
  images, labels = load_digits("test", size=16)
  classifier = load_digits_classifier()
  return images, labels, lambda x: np.argmax(np.asarray(classifier.logits(x)), axis=-1)


def test_agreement_finds_the_code_to_class_map_of_a_synthetic_generator(digits_and_classify):
  images, labels, classify = digits_and_classify
  permutation = np.random.default_rng(0).permutation(10)

  def generate(codes):  # code k draws real held-out digits of class permutation[k]
    picks = [np.flatnonzero(labels == permutation[k])[i % 30] for i, k in enumerate(codes)]
    return images[picks]

  agreement = ic.code_agreement(generate, classify, 10, 10, samples_per_code=30)
  np.testing.assert_array_equal(agreement.matching, permutation)
  assert agreement.accuracy >= 0.95  # the classifier's own errors only
  assert agreement.confusion.sum() == 300
  assert agreement.chance < 0.2


def test_agreement_of_a_code_blind_generator_is_at_chance(digits_and_classify):
  images, _, classify = digits_and_classify
  rng = np.random.default_rng(1)

  def generate(codes):  # ignores the code
    return images[rng.integers(0, len(images), len(codes))]

  agreement = ic.code_agreement(generate, classify, 10, 10, samples_per_code=30)
  assert abs(agreement.accuracy - agreement.chance) < 4 * agreement.chance_std + 1e-9
