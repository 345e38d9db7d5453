"""InfoGAN disentangles (Chen et al. 2016, sec. 7.1): on the digits, the categorical code picks the
digit class and the continuous codes vary style.

Measured as in the clustering literature: generate samples for each value of the categorical code,
classify them with the bundled digits classifier, and count the code x class confusion matrix; the
accuracy is the fraction of samples on the best one-to-one code-to-class matching, found by the
Hungarian algorithm (Kuhn 1955; `scipy.optimize.linear_sum_assignment`), the "unsupervised
clustering accuracy" of Chen et al. 2016, sec. 7.1 (they report 5% error on MNIST). Chance level:
the same accuracy after shuffling the codes against the classes (a code independent of the class,
with the same marginals), averaged over shuffles; with finite samples it sits above 1 / K, because
the matching is chosen after seeing the counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

# The grid's continuous-code values: Chen et al. 2016, Fig. 2 varies c2, c3 from -2 to 2 (training
# draws them from U(-1, 1), so the outer columns extrapolate).
GRID_RANGE = (-2.0, 2.0)


def confusion_matrix(codes, classes, num_codes: int, num_classes: int) -> np.ndarray:
  """Counts [num_codes, num_classes]: entry (k, c) = #samples with code k and class c."""
  codes, classes = np.asarray(codes), np.asarray(classes)
  if codes.shape != classes.shape or codes.ndim != 1:
    raise ValueError(
      f"codes and classes must be 1-D of one length; got shapes {codes.shape}, {classes.shape}."
    )
  if num_codes < 1 or num_classes < 1:
    raise ValueError(f"num_codes and num_classes must be >= 1; got {num_codes}, {num_classes}.")
  for name, values, bound in (("codes", codes, num_codes), ("classes", classes, num_classes)):
    if values.size and (values.min() < 0 or values.max() >= bound or values.dtype.kind not in "iu"):
      raise ValueError(
        f"{name} must be integers in [0, {bound}); got {values.min()}..{values.max()}."
      )
  counts = np.zeros((num_codes, num_classes), np.int64)
  np.add.at(counts, (codes, classes), 1)
  return counts


def best_matching(confusion) -> tuple[np.ndarray, np.ndarray]:
  """(matched codes, their classes): the one-to-one pairing maximising the matched counts
  (Hungarian algorithm, Kuhn 1955; min(K, C) pairs when the matrix is rectangular)."""
  from scipy.optimize import linear_sum_assignment  # scipy is heavy; only this needs it

  return linear_sum_assignment(np.asarray(confusion), maximize=True)


def hungarian_accuracy(codes, classes, num_codes: int, num_classes: int) -> float:
  """max over one-to-one maps m: codes -> classes of mean(m(code_i) == class_i).

  With a confusion matrix N (N[k, c] = #samples of code k and class c) this is
  max_m sum_k N[k, m(k)] / sum(N): a linear assignment problem (Kuhn 1955). A code left unmatched
  (K > C) counts all its samples as wrong.
  """
  confusion = confusion_matrix(codes, classes, num_codes, num_classes)
  if confusion.sum() == 0:
    raise ValueError("hungarian_accuracy needs at least one sample.")
  rows, cols = best_matching(confusion)
  return float(confusion[rows, cols].sum() / confusion.sum())


def chance_accuracy(
  codes, classes, num_codes: int, num_classes: int, *, num_shuffles: int = 100, seed: int = 0
) -> tuple[float, float]:
  """(mean, std) of `hungarian_accuracy` with the codes shuffled against the classes: what a code
  carrying no information about the class scores on the same samples (a permutation test)."""
  rng = np.random.default_rng(seed)
  scores = [
    hungarian_accuracy(rng.permutation(codes), classes, num_codes, num_classes)
    for _ in range(num_shuffles)
  ]
  return float(np.mean(scores)), float(np.std(scores))


class CodeAgreement(NamedTuple):
  """The categorical code against the classifier's class on generated samples."""

  codes: np.ndarray  # [N] the categorical code each sample was generated from
  classes: np.ndarray  # [N] the classifier's class of the sample
  confusion: np.ndarray  # [K, C] counts
  matching: np.ndarray  # [K] the class matched to each code (-1: none)
  accuracy: float  # hungarian_accuracy
  chance: float  # mean shuffled accuracy
  chance_std: float


def code_agreement(
  generate: Callable[[np.ndarray], np.ndarray],
  classify: Callable[[np.ndarray], np.ndarray],
  num_codes: int,
  num_classes: int,
  samples_per_code: int,
) -> CodeAgreement:
  """Generates `samples_per_code` images per code value with `generate(codes [N]) -> images`,
  labels them with `classify(images) -> classes [N]`, and scores the code-class agreement."""
  codes = np.repeat(np.arange(num_codes), samples_per_code)
  classes = np.asarray(classify(generate(codes)))
  confusion = confusion_matrix(codes, classes, num_codes, num_classes)
  rows, cols = best_matching(confusion)
  matching = np.full(num_codes, -1)
  matching[rows] = cols
  chance, chance_std = chance_accuracy(codes, classes, num_codes, num_classes)
  return CodeAgreement(
    codes=codes,
    classes=classes,
    confusion=confusion,
    matching=matching,
    accuracy=hungarian_accuracy(codes, classes, num_codes, num_classes),
    chance=chance,
    chance_std=chance_std,
  )


class InfoGANCodesResult(NamedTuple):
  """What `infogan_codes_experiment` measured."""

  agreement: CodeAgreement
  grids: np.ndarray  # [continuous codes, K, columns, H, W]: code j swept, the others at 0
  grid_values: np.ndarray  # [columns] the swept continuous-code values
  accuracy_by_step: tuple[tuple[int, float], ...]  # (step, Hungarian accuracy) while training
  q_accuracy: float  # Q's c1 on the held-out real digits, matched to their labels (the paper's)
  num_steps: int
  seed: int


def q_code_accuracy(algorithm, state, images, labels, num_classes: int) -> float:
  """The paper's measure (Chen et al. 2016, sec. 7.1): c1 = argmax of Q's categorical logits on
  real `images`, matched one-to-one to their `labels` (`hungarian_accuracy`)."""
  logits = np.asarray(algorithm.categorical_code_logits(state, jnp.asarray(images)))
  return hungarian_accuracy(logits.argmax(-1), labels, algorithm.categorical_codes, num_classes)


def infogan_config(
  *, quick: bool, seed: int, num_steps: int | None = None, name: str = "infogan_digits"
):
  """The config `name` (`jaxgen/configs/infogan_digits.py`, or `infogan_paper_digits`), shrunk
  for the quick setting (narrow nets, few steps)."""
  from jaxgen import configs

  config = configs.load(name)
  config.seed = seed
  config.progress_bar = False
  config.num_steps = 8000 if num_steps is None else num_steps
  if quick:
    config.num_steps = 30 if num_steps is None else num_steps
    config.batch_size = 32
    config.model.generator = {"name": "dcgan", "base_features": 8}
    config.model.discriminator = {"name": "dcgan", "base_features": 8}
  return config


def _generate(algorithm, state, categorical, continuous, noise) -> np.ndarray:
  """G's images (inference mode, evaluation params) for the given codes and noise."""
  z = algorithm.code_latents(noise, {"categorical": categorical, "continuous": continuous})
  params = algorithm.evaluation_params(state)
  images, _ = algorithm.generate(
    state, None, len(categorical), None, train=False, params=params, z=z
  )
  return np.asarray(images)


def _continuous_sweeps(algorithm, state, key, columns: int) -> tuple[np.ndarray, np.ndarray]:
  """[continuous codes, K, columns, H, W] images, code j swept over `GRID_RANGE` and the others at
  0, and the swept values. One z for the whole grid (Chen et al. 2016, Fig. 2 fixes the other
  latents): rows differ in c1 only, columns in the swept continuous code only."""
  num_codes, num_continuous = algorithm.categorical_codes, algorithm.continuous_codes
  values = np.linspace(*GRID_RANGE, columns)
  shape = (num_codes * columns, algorithm.latent_dim)
  noise = jnp.broadcast_to(algorithm.sample_noise(key, 1), shape)
  categorical = jnp.repeat(jnp.arange(num_codes), columns)
  grids = []
  for j in range(num_continuous):
    continuous = np.zeros((num_codes * columns, num_continuous), np.float32)
    continuous[:, j] = np.tile(values, num_codes)
    images = _generate(algorithm, state, categorical, jnp.asarray(continuous), noise)
    grids.append(images[..., 0].reshape(num_codes, columns, *images.shape[1:3]))
  return (np.stack(grids) if grids else np.zeros((0,))), values


def _score_codes(algorithm, classifier, noise_key, samples_per_code: int, state) -> CodeAgreement:
  """`code_agreement` of G in `state` against the digits `classifier`: `samples_per_code` samples
  per categorical code, each with its own z and c_cont ~ U(-1, 1) drawn from `noise_key`, as in
  training (Chen et al. 2016)."""

  def generate_for_codes(codes):
    z_key, c_key = jax.random.split(noise_key)
    noise = algorithm.sample_noise(z_key, len(codes))  # the prior it trained with
    shape = (len(codes), algorithm.continuous_codes)
    continuous = jax.random.uniform(c_key, shape, minval=-1.0, maxval=1.0)
    return _generate(algorithm, state, jnp.asarray(codes), continuous, noise)

  return code_agreement(
    generate_for_codes,
    lambda images: np.argmax(np.asarray(classifier.logits(images)), axis=-1),
    algorithm.categorical_codes,
    classifier.num_classes,
    samples_per_code=samples_per_code,
  )


def _train_scored(run, num_steps: int, score_every: int | None, score):
  """Trains `run` for `num_steps` steps through its one step function; returns the final state,
  `score(final state)` and (step, accuracy) every `score_every` steps (if given) and at the end."""
  state = run.init_state()
  accuracy_by_step = []
  for step in range(num_steps):
    state, _ = run.step(state, step)
    if score_every and (step + 1) % score_every == 0 and step + 1 < num_steps:
      accuracy_by_step.append((step + 1, score(state).accuracy))
  agreement = score(state)
  accuracy_by_step.append((num_steps, agreement.accuracy))
  return state, agreement, tuple(accuracy_by_step)


def infogan_codes_experiment(
  *,
  quick: bool = False,
  seed: int = 0,
  num_steps: int | None = None,
  score_every: int | None = None,
  config_name: str = "infogan_digits",
) -> InfoGANCodesResult:
  """Trains `config_name` (`infogan_digits` or `infogan_paper_digits`) through the one loop
  (its steps; quick: 30 steps of narrow nets), then scores the categorical code against the
  digits classifier and on held-out digits through Q (`q_accuracy`), and sweeps the continuous
  codes.

  `score_every`: also score the code every this many steps (`accuracy_by_step`); the scoring draws
  no training randomness, so the trained parameters do not depend on it.
  """
  from jaxgen.data import load_digits
  from jaxgen.metrics import load_digits_classifier
  from jaxgen.run import train

  config = infogan_config(quick=quick, seed=seed, num_steps=num_steps, name=config_name)
  run = train.Run(config)
  algorithm = run.algorithm
  classifier = load_digits_classifier()
  size = run.dataset.example_shape[0]  # 8 or 16: the held-out digits as the run sees digits
  held_out = load_digits("test", size=size)
  noise_key, grid_key = jax.random.split(jax.random.key(seed + 1000))
  samples_per_code = 20 if quick else 100

  def score(state) -> CodeAgreement:
    return _score_codes(algorithm, classifier, noise_key, samples_per_code, state)

  state, agreement, accuracy_by_step = _train_scored(run, config.num_steps, score_every, score)
  grids, values = _continuous_sweeps(algorithm, state, grid_key, columns=5 if quick else 9)
  return InfoGANCodesResult(
    agreement=agreement,
    grids=grids,
    grid_values=values,
    accuracy_by_step=accuracy_by_step,
    q_accuracy=q_code_accuracy(algorithm, state, *held_out, classifier.num_classes),
    num_steps=config.num_steps,
    seed=seed,
  )


def mosaic(grid: np.ndarray, pad: float = 1.0) -> np.ndarray:
  """[rows, cols, H, W] images -> one [rows * (H + 1) - 1, cols * (W + 1) - 1] picture, the
  tiles separated by one line of `pad`."""
  rows, cols, height, width = grid.shape
  out = np.full((rows * (height + 1) - 1, cols * (width + 1) - 1), pad, grid.dtype)
  for r in range(rows):
    for c in range(cols):
      out[
        r * (height + 1) : r * (height + 1) + height, c * (width + 1) : c * (width + 1) + width
      ] = grid[r, c]
  return out


def draw_infogan_codes(result: InfoGANCodesResult, axes) -> None:
  """One panel per continuous code: rows = categorical code (labelled with its matched class),
  columns = that continuous code from -2 to 2, the other codes at 0; `axes` a sequence of at
  least that many matplotlib axes (a last extra axis, if given, gets the confusion matrix)."""
  axes = list(np.ravel(axes))
  agreement = result.agreement
  num_grids = len(result.grids)
  for j, ax in enumerate(axes[:num_grids]):
    grid = result.grids[j]
    rows, cols, height, _ = grid.shape
    ax.imshow(mosaic(grid), cmap="gray_r", vmin=-1, vmax=1)
    ax.set_xticks([c * (height + 1) + height / 2 for c in range(cols)])
    ax.set_xticklabels([f"{v:g}" for v in result.grid_values])
    ax.set_yticks([r * (height + 1) + height / 2 for r in range(rows)])
    ax.set_yticklabels([f"c1={k} -> {m}" for k, m in enumerate(agreement.matching)])
    ax.set_xlabel(f"continuous code c{j + 2}")
    ax.set_title(
      f"InfoGAN, {result.num_steps} steps: Hungarian acc. {agreement.accuracy:.2f} "
      f"(chance {agreement.chance:.2f})",
      fontsize=9,
    )
  if len(axes) > num_grids:
    ax = axes[num_grids]
    ax.imshow(agreement.confusion, cmap="Blues")
    ax.set_xlabel("classifier's class")
    ax.set_ylabel("categorical code")
    ax.set_title("code x class counts", fontsize=9)
