"""InfoGAN's paper options (jaxgen.algorithms.infogan `noise_prior`, `q_hidden`; jaxgen.nn.infogan)
and the paper config: the prior's draws against jax.random by hand, Q's hidden head against a
float64 NumPy forward pass of Chen et al. 2016's Table 1 layer, and the options' refusals."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import algorithms, data
from jaxgen.algorithms.base import init_train_state
from jaxgen.configs import infogan_digits, infogan_paper_digits
from jaxgen.errors import ConfigError
from jaxgen.nn.gan import BATCH_NORM_EPSILON
from jaxgen.nn.infogan import HiddenQDiscriminator

BATCH = 16


def tiny(config, **algorithm_options):
  """`config` on 8x8 digits with narrow nets and a batch of 16."""
  config.batch_size = BATCH
  config.data.options = {"size": 8}
  config.model.latent_dim = 6
  config.model.generator = {"name": "dcgan", "base_features": 4}
  discriminator = dict(config.model.discriminator)
  config.model.discriminator = {**discriminator, "base_features": 4}
  with config.algorithm.ignore_type():  # bad values reach the algorithm's own checks
    for key, value in algorithm_options.items():
      config.algorithm[key] = value
  return config


def build(config):
  dataset = data.get("digits", size=8)
  algorithm = algorithms.get(config.algorithm.name)(config, dataset)
  batch = {k: jnp.asarray(v) for k, v in dataset.batch(0, 0, BATCH).items()}
  return algorithm, init_train_state(algorithm, jax.random.key(0), batch), batch


def test_default_latents_are_normal_noise_one_hot_and_uniform_codes():
  # The earlier behaviour, rebuilt from jax.random: z ~ N(0, I), c1 one-hot, c2, c3 ~ U(-1, 1).
  algorithm, _, _ = build(tiny(infogan_digits.get_config()))
  assert algorithm.noise_prior == "normal" and algorithm.q_hidden == 0
  rng = jax.random.key(3)
  noise_rng, code_rng = jax.random.split(rng)
  cat_rng, cont_rng = jax.random.split(code_rng)
  expected = np.concatenate(
    [
      jax.random.normal(noise_rng, (50, 6)),
      jax.nn.one_hot(jax.random.randint(cat_rng, (50,), 0, 10), 10),
      jax.random.uniform(cont_rng, (50, 2), minval=-1.0, maxval=1.0),
    ],
    axis=1,
  )
  np.testing.assert_array_equal(np.asarray(algorithm.latents(rng, 50)), expected)


def test_uniform_noise_prior_draws_z_from_minus_one_to_one():
  algorithm, _, _ = build(tiny(infogan_digits.get_config(), noise_prior="uniform"))
  z = np.asarray(algorithm.sample_noise(jax.random.key(0), 20_000))
  assert z.shape == (20_000, 6)
  assert z.min() >= -1.0 and z.max() <= 1.0
  # U(-1, 1): mean 0, variance 1/3; 4 standard errors over 120000 draws.
  assert abs(z.mean()) < 4 * math.sqrt(1 / 3 / z.size)
  assert z.var() == pytest.approx(1 / 3, abs=4 * math.sqrt(4 / 45 / z.size))
  # The generator's input carries the same prior in its first latent_dim columns.
  noise_rng, _ = jax.random.split(jax.random.key(5))
  expected = jax.random.uniform(noise_rng, (7, 6), minval=-1.0, maxval=1.0)
  np.testing.assert_array_equal(
    np.asarray(algorithm.latents(jax.random.key(5), 7))[:, :6], np.asarray(expected)
  )


def numpy_q_head(features, params, slope):
  """Chen et al. 2016, Table 1 (Q: FC.128-BN-lRELU, FC) in float64 on D's sown conv features
  [B, H, W, C]: per-channel batch norm in training mode (batch mean, biased variance), leaky ReLU,
  flatten, Dense without bias, batch norm, leaky ReLU, Dense."""
  f = np.asarray(features, np.float64)

  def norm(h, p, axes):
    mean, var = h.mean(axis=axes), h.var(axis=axes)
    scale, bias = np.asarray(p["scale"], np.float64), np.asarray(p["bias"], np.float64)
    return (h - mean) / np.sqrt(var + BATCH_NORM_EPSILON) * scale + bias

  leaky = lambda h: np.where(h >= 0, h, slope * h)
  h = leaky(norm(f, params["q_features_norm"], (0, 1, 2))).reshape(f.shape[0], -1)
  h = h @ np.asarray(params["q_hidden"]["kernel"], np.float64)
  h = leaky(norm(h, params["q_hidden_norm"], (0,)))
  head = params["aux_head"]
  return h @ np.asarray(head["kernel"], np.float64) + np.asarray(head["bias"], np.float64)


def test_hidden_q_head_matches_a_float64_forward_pass_and_learns_from_both_players():
  config = tiny(infogan_paper_digits.get_config())
  algorithm, state, batch = build(config)
  assert isinstance(algorithm.discriminator, HiddenQDiscriminator)
  d = state.players["discriminator"]
  # Shapes: 8x8 digits, one stride-2 conv of 4 channels -> 4x4x4 = 64 features -> 128 -> 12.
  assert d.params["q_hidden"]["kernel"].shape == (64, 128)
  assert d.params["aux_head"]["kernel"].shape == (128, 12)
  assert set(d.model_state["batch_stats"]) >= {"q_features_norm", "q_hidden_norm"}
  # Break the symmetric initial BN parameters so that the reference checks scale and offset.
  params = jax.tree_util.tree_map(
    lambda p: p + 0.1 * jax.random.normal(jax.random.key(p.size), p.shape), d.params
  )
  (logits, aux), variables = algorithm.discriminator.apply(
    {"params": params, **d.model_state},
    batch["x"],
    train=True,
    mutable=["batch_stats", "intermediates"],
  )
  features = variables["intermediates"]["base"]["features"][-1]
  expected = numpy_q_head(features, params, slope=0.01)
  np.testing.assert_allclose(np.asarray(aux), expected, rtol=1e-4, atol=1e-5)
  assert logits.shape == (BATCH,)
  # Q's head is D's player's (its optimizer, its lr); G gets the MI term through its samples.
  d_grads, _, d_metrics = algorithm.discriminator_grads(state, batch, jax.random.key(1))
  for name in ("q_hidden", "aux_head"):
    assert np.any(np.asarray(d_grads[name]["kernel"]) != 0)
  assert float(d_metrics["mutual_information"]) <= math.log(10) + 2 * math.log(2.0)
  g_grads, _, _ = algorithm.generator_grads(state, batch, jax.random.key(2))
  assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(g_grads))


def test_paper_config_holds_the_authors_settings():
  config = infogan_paper_digits.get_config()
  assert config.model.latent_dim == 62 and config.algorithm.noise_prior == "uniform"
  assert config.algorithm.q_hidden == 128 and config.batch_size == 128
  assert config.optimizer.generator.learning_rate == 1e-3
  assert config.optimizer.discriminator.learning_rate == 2e-4
  assert config.optimizer.generator.b1 == config.optimizer.discriminator.b1 == 0.5
  assert config.model.discriminator.leaky_slope == 0.01
  assert config.num_steps == 5000


@pytest.mark.parametrize(
  "options,match",
  [
    (
      {"noise_prior": "gaussian"},
      r"noise_prior = 'gaussian' is not one of \['normal', 'uniform'\]",
    ),
    ({"q_hidden": -1}, "q_hidden = -1 is refused: must be an integer >= 0"),
    ({"q_hidden": 1.5}, "q_hidden = 1.5 is refused: must be an integer >= 0"),
  ],
)
def test_bad_options_are_refused_with_the_key_and_choices(options, match):
  with pytest.raises(ValueError, match=match):
    build(tiny(infogan_digits.get_config(), **options))


def test_hidden_q_head_refuses_minibatch_discrimination():
  config = tiny(infogan_digits.get_config(), q_hidden=8)
  config.algorithm.stabilisers.minibatch_discrimination = 4
  with pytest.raises(ConfigError, match="minibatch_discrimination"):
    build(config)


def test_q_code_accuracy_matches_q_codes_to_the_labels_one_to_one():
  """Chen et al. 2016, sec. 7.1: c1 = argmax Q on real digits, each code matched to one class."""
  from jaxgen.theory.infogan_codes import q_code_accuracy

  algorithm, state, batch = build(tiny(infogan_digits.get_config()))
  images = np.asarray(data.load_digits("test", size=8)[0][:64])
  logits = np.asarray(algorithm.categorical_code_logits(state, jnp.asarray(images)))
  assert logits.shape == (64, algorithm.categorical_codes)
  codes = logits.argmax(-1)
  relabel = np.random.default_rng(0).permutation(10)  # labels that are a renaming of the codes
  assert q_code_accuracy(algorithm, state, images, relabel[codes], 10) == 1.0
  wrong = relabel[codes].copy()
  wrong[:8] = (wrong[:8] + 1) % 10  # 8 of 64 labels moved to another class
  assert q_code_accuracy(algorithm, state, images, wrong, 10) == pytest.approx(56 / 64, abs=1 / 64)
