"""AdaGAN (Tolstikhin et al. 2017, Alg. 1): the reweighting rule against a hand computation in
float64, the mixture's weights and sampling, rounds from the step, which slices train when, and an
exact resume mid-round through the one training loop. The players' gradients are in
`gradient_cases_adagan.py` (run by `test_registry_gradients.py`)."""

import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradient_cases_adagan import make_config

from jaxgen import algorithms, data
from jaxgen.algorithms import adagan
from jaxgen.algorithms.base import init_train_state, make_train_step
from jaxgen.data.base import handed_data
from jaxgen.errors import ConfigError
from jaxgen.run import config_check, train
from jaxgen.run.train import phase_batches


def authors_weights(ratios, beta):
  """The authors' `_compute_data_weights_theory_star` (github tolstikhin/adagan, adagan.py) in
  float64: search the sorted ratios for the k where lambda_k lies between (1 - beta) d_(k) and
  (1 - beta) d_(k+1), then w_i = max(lambda - (1 - beta) d_i, 0) / (N beta)."""
  num = len(ratios)
  ordered = np.sort(ratios)
  cumulative = np.cumsum(ordered)
  for i in range(num):
    lam = beta * num * (1.0 + (1.0 - beta) / beta / num * cumulative[i]) / (i + 1.0)
    upper = np.inf if i == num - 1 else (1.0 - beta) * ordered[i + 1]
    if (1.0 - beta) * ordered[i] <= lam <= upper:
      break
  else:
    raise AssertionError("no lambda found")
  weights = np.where(ratios <= lam / (1.0 - beta), lam - (1.0 - beta) * ratios, 0.0) / num / beta
  return weights, lam


def build(num_steps=None, **options):
  """(algorithm, config, ring8) of the gradient cases' small config with `config.algorithm`
  options changed."""
  config = make_config()
  config.num_steps = num_steps or config.num_steps
  for key, value in options.items():
    config.algorithm[key] = value
  dataset = data.get("ring8")
  return (
    algorithms.get("adagan")(config, handed_data(dataset, config.seed, config.batch_size)),
    config,
    dataset,
  )


def test_weights_of_a_small_example_by_hand():
  # d = (0, 1, 3), beta = 1/2: with the two smallest active, 2 lambda - (0 + 1) / 2 = N beta = 3/2,
  # lambda = 1, inside [(1 - beta) 1, (1 - beta) 3] = [0.5, 1.5]; w = (1, 0.5, 0) / 1.5.
  with jax.enable_x64(True):
    weights, lam = adagan.data_weights(jnp.array([0.0, 1.0, 3.0]), 0.5)
    np.testing.assert_allclose(weights, [2 / 3, 1 / 3, 0.0], rtol=1e-15, atol=1e-15)
    assert float(lam) == pytest.approx(1.0, rel=1e-15)


@pytest.mark.parametrize("beta", [0.5, 1 / 3, 0.1])
def test_weights_rule_matches_the_authors_search_in_float64(beta):
  rng = np.random.default_rng(3)
  ratios = np.exp(rng.normal(0.0, 1.5, 200))  # d = dP_model/dP_data over four orders of magnitude
  expected, expected_lam = authors_weights(ratios, beta)
  with jax.enable_x64(True):
    weights, lam = adagan.data_weights(jnp.asarray(ratios), beta)
    weights, lam = np.asarray(weights), float(lam)
  np.testing.assert_allclose(lam, expected_lam, rtol=1e-12)
  np.testing.assert_allclose(weights, expected, rtol=1e-10, atol=1e-15)
  assert weights.sum() == pytest.approx(1.0, abs=1e-12)
  # lambda* solves the paper's eq. 18: sum_i max(lambda - (1 - beta) d_i, 0) = N beta.
  assert np.maximum(lam - (1 - beta) * ratios, 0).sum() == pytest.approx(len(ratios) * beta)
  covered = (1 - beta) * ratios >= lam  # points the mixture already covers well
  assert covered.any() and (~covered).any()
  assert np.all(weights[covered] == 0) and np.all(weights[~covered] > 0)
  order = np.argsort(ratios)  # the better covered, the lighter
  assert np.all(np.diff(weights[order]) <= 1e-15)


def test_an_overflowing_ratio_gets_weight_zero():
  ratios = adagan.density_ratios(jnp.array([-200.0, 0.0, 1.0, 2.0]))  # exp(200) = inf in float32
  weights, _ = adagan.data_weights(ratios, 0.5)
  assert float(weights[0]) == 0.0
  assert np.isfinite(np.asarray(weights)).all() and float(weights.sum()) == pytest.approx(1.0)


def test_mixture_weights_of_the_betas():
  # beta_t = 1/t: the uniform mixture of the first t generators.
  table = adagan.mixture_table(4, "uniform")
  for t in range(4):
    np.testing.assert_allclose(table[t], [1 / (t + 1)] * (t + 1) + [0] * (3 - t), rtol=1e-15)
  # constant beta: P_t = (1 - beta) P_{t-1} + beta G_t.
  np.testing.assert_allclose(
    adagan.mixture_table(3, 0.3), [[1, 0, 0], [0.7, 0.3, 0], [0.49, 0.21, 0.3]], rtol=1e-15
  )


def test_mixture_samples_pick_generators_at_the_mixture_weights():
  algorithm, config, _ = build(rounds=4, beta=0.3, num_steps=40)
  batch = {"x": jnp.zeros((8, 2)), "y": jnp.zeros((8,), jnp.int32)}
  state = jax.jit(lambda key: init_train_state(algorithm, key, batch))(jax.random.key(0))
  # Generator j outputs the point (j, 0) whatever z: its last layer's kernel zeroed, bias (j, 0).
  params = dict(state.players["generator"].params)
  last = max((name for name in params if name.startswith("Dense_")), key=lambda n: int(n[6:]))
  params[last] = {
    "kernel": jnp.zeros_like(params[last]["kernel"]),
    "bias": jnp.stack([jnp.array([float(j), 0.0]) for j in range(4)]),
  }
  players = {**state.players, "generator": state.players["generator"].replace(params=params)}
  state = state.replace(players=players)
  num = 40_000
  sample = jax.jit(algorithm.mixture_samples, static_argnums=(2, 3))
  for round_ in (1, 3):
    samples = sample(state, jax.random.key(5), num, round_)
    picked = np.rint(np.asarray(samples[:, 0])).astype(int)
    frequencies = np.bincount(picked, minlength=4) / num
    alpha = adagan.mixture_table(4, 0.3)[round_]
    # Binomial standard error sqrt(a (1 - a) / n) <= 0.0025; 5 of them: a 1-in-1.7-million miss.
    tolerance = 5 * np.sqrt(alpha * (1 - alpha) / num)
    np.testing.assert_array_less(np.abs(frequencies - alpha), tolerance + 1e-12)


def test_rounds_and_the_classifier_part_follow_the_step():
  algorithm, _, _ = build(rounds=4, classifier_fraction=0.3, num_steps=42)  # rounds of 10, 3 + 7
  extra = algorithm.init_extra()
  steps = jnp.arange(42)
  rounds = np.asarray(algorithm.round_of(extra, steps))
  np.testing.assert_array_equal(rounds, [0] * 10 + [1] * 10 + [2] * 10 + [3] * 12)
  classifier = np.flatnonzero(np.asarray(algorithm.classifier_trains(extra, steps)))
  np.testing.assert_array_equal(classifier, [7, 8, 9, 17, 18, 19, 27, 28, 29])
  np.testing.assert_array_equal(np.flatnonzero(algorithm.ends_round(extra, steps)), [9, 19, 29])


def test_training_set_is_the_first_points_the_loop_serves():
  algorithm, config, dataset = build()
  served = [phase_batches(dataset, config, step, len(algorithm.schedule)) for step in range(2)]
  points = np.concatenate([b["x"].reshape(-1, 2) for b in served])
  np.testing.assert_array_equal(
    algorithm.training_set, points[: config.algorithm.training_set_size]
  )


def test_the_loop_hands_s_n_and_not_the_data_set():
  run = train.Run(make_config())
  held = [name for name, value in vars(run.algorithm).items() if isinstance(value, data.Dataset)]
  assert not held, f"AdaGAN holds the data set in {held}"
  served = [run.batches(step)["x"].reshape(-1, 2) for step in range(2)]
  size = run.config.algorithm.training_set_size
  np.testing.assert_array_equal(run.algorithm.training_set, np.concatenate(served)[:size])


def test_each_round_trains_its_own_slices_and_reweights_at_its_end():
  """30 steps, rounds of 10 (the last 3 of rounds 0 and 1 train the classifier)."""
  algorithm, config, dataset = build()
  phases = len(algorithm.schedule)
  batches = lambda step: phase_batches(dataset, config, step, phases)
  state = init_train_state(algorithm, jax.random.key(0), jax.tree.map(lambda x: x[0], batches(0)))
  step_fn = jax.jit(make_train_step(algorithm))
  kernel = lambda s, name: np.asarray(s.players[name].params["Dense_0"]["kernel"])
  changed = {name: [] for name in algorithm.players}
  weights = [np.asarray(state.extra["data_weights"])]
  for step in range(30):
    before = state
    state, _ = step_fn(state, batches(step))
    for name in changed:
      moved = np.any(kernel(state, name) != kernel(before, name), axis=(1, 2))
      changed[name].append(np.flatnonzero(moved).tolist())
    weights.append(np.asarray(state.extra["data_weights"]))
    if step in (9, 19):  # W_{t+1} from round t's classifier on S_N, beta_{t+1} = 1 / (t + 2)
      c, r = state.players["classifier"], step // 10
      outputs, _, _ = algorithm.classifier(
        adagan.take(c.params, r), adagan.take(c.model_state, r), algorithm.training_set, None
      )
      ratios = np.exp(-np.asarray(outputs, np.float64))
      expected, _ = authors_weights(ratios, 1 / (r + 2))
      np.testing.assert_allclose(weights[-1], expected, rtol=2e-4, atol=1e-7)
  gan_steps = lambda r: [[r]] * (7 if r < 2 else 10)
  expected_gan = gan_steps(0) + [[]] * 3 + gan_steps(1) + [[]] * 3 + gan_steps(2)
  assert changed["generator"] == expected_gan
  assert changed["discriminator"] == expected_gan
  assert changed["classifier"] == [[]] * 7 + [[0]] * 3 + [[]] * 7 + [[1]] * 3 + [[]] * 10
  # Adam counts per slice: each network's own updates only.
  count = lambda name: np.asarray(state.players[name].opt_state.inner_state[0].count)
  np.testing.assert_array_equal(count("generator"), [7, 7, 10])
  np.testing.assert_array_equal(count("classifier"), [3, 3, 0])
  # Weights move exactly at the ends of rounds 0 and 1; round 0 trains on uniform weights.
  moves = [i for i in range(30) if np.any(weights[i + 1] != weights[i])]
  assert moves == [9, 19]
  np.testing.assert_array_equal(weights[0], np.full(20, 1 / 20, np.float32))
  assert (weights[-1] == 0).any(), "some points of S_N should be covered by the mixture"


def test_resume_mid_round_is_bit_exact(tmp_path):
  """The loop checkpoints at 14 (round 1), 28 and 30; without the last two the same command
  resumes from 14 and must end where the uninterrupted run ended."""
  config = make_config()
  config.update(checkpoint_every=14, eval_every=30, progress_bar=False, keep_checkpoints=3)
  config.eval.num_samples = 100
  uninterrupted = train.train_and_evaluate(config, tmp_path)
  leaves = lambda s: [np.asarray(x) for x in jax.tree.leaves((s.players, s.extra))]
  expected = leaves(uninterrupted)
  for step in ("28", "30"):
    shutil.rmtree(tmp_path / "checkpoints" / step)
  resumed = train.train_and_evaluate(config, tmp_path)
  assert int(resumed.step) == 30
  for a, b in zip(leaves(resumed), expected, strict=True):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
  ("key", "value", "match"),
  [
    ("algorithm.rounds", 1, "algorithm.rounds"),
    ("algorithm.beta", 1.0, "algorithm.beta"),
    ("algorithm.beta", "linear", "algorithm.beta"),
    ("algorithm.classifier_fraction", 0.0, "algorithm.classifier_fraction"),
    ("algorithm.training_set_size", 0, "algorithm.training_set_size"),
    ("algorithm.weight_clip", 0.01, "weight_clip"),
    ("num_steps", 3, "too few"),  # rounds of 1 step: no room for a GAN beside the classifier
    ("conditional", True, "takes no labels"),
  ],
)
def test_bad_values_are_refused_naming_the_key(key, value, match):
  config = make_config()
  section, _, name = key.rpartition(".")
  (config.algorithm if section else config)[name] = value
  with pytest.raises(ConfigError, match=match):
    config_check.check_config(config)
