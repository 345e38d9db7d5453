"""Settings papers use: alternating or simultaneous updates, and the networks' activation and
weight initialiser by name.

The update test plays the bilinear game through the training loop: a WGAN whose critic is linear,
D(x) = w x + c, and whose generator ignores its noise (z = 0), G = b. Then
L_D = w b - w mean(x) and L_G = -(w b + c), so with SGD at rate lr the iterates are, by hand:
  simultaneous: w' = w - lr (b - mean(x)),  b' = b + lr w       (both at the old point)
  alternating:  w' = w - lr (b - mean(x0)), b' = b + lr w'      (G against the updated D)
where x0 is the batch of the D phase. On mean(x) = 0 the first spirals out by sqrt(1 + lr^2) per
step and the second conserves w^2 + b^2 - lr w b (Goodfellow 2016, NIPS tutorial, sec. 8.2).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from test_train import tiny_ring_config

from jaxgen.errors import ConfigError
from jaxgen.nn import choices, gan
from jaxgen.run import train
from jaxgen.run.config_check import check_config
from jaxgen.run.overrides import apply_overrides

LR, STEPS = 0.1, 12


def _bilinear_run(updates: str, mean: float = 0.5) -> train.Run:
  config = tiny_ring_config(num_steps=STEPS, batch_size=16)
  config.data.name, config.data.options = "gaussian1d", {"mean": mean, "std": 1.0}
  config.model.latent_dim = 1
  config.model.generator = {"name": "mlp", "hidden": (), "batch_norm": False}
  config.model.discriminator = {"name": "mlp", "hidden": (), "maxout_pieces": 0}
  config.algorithm.loss = "wasserstein"
  config.algorithm.updates = updates
  for player in ("generator", "discriminator"):
    config.optimizer[player] = {"name": "sgd", "learning_rate": LR}
  run = train.Run(config)
  run.algorithm.latents = lambda rng, num: jnp.zeros((num, 1))  # G = b: the bilinear game
  return run


def _point(state) -> tuple[float, float]:
  d = state.players["discriminator"].params
  g = state.players["generator"].params
  (w,), (b,) = np.asarray(d["Dense_0"]["kernel"])[:, 0], np.asarray(g["Dense_0"]["bias"])
  return float(w), float(b)


@pytest.mark.parametrize("updates", ["simultaneous", "alternating"])
def test_the_updates_give_the_closed_form_iterates_of_the_bilinear_game(updates):
  run = _bilinear_run(updates)
  assert run.algorithm.schedule == (
    (("discriminator", "generator"),)
    if updates == "simultaneous"
    else (("discriminator",), ("generator",))
  )
  state = run.init_state()
  w, b = _point(state)
  for step in range(STEPS):
    batches = run.batches(step)  # [phase, batch, 1]: the data, a pure function of (seed, step)
    state, _ = run.step(state, step)
    x_mean = float(np.mean(np.asarray(batches["x"][0], np.float64)))
    if updates == "simultaneous":
      w, b = w - LR * (b - x_mean), b + LR * w
    else:
      w = w - LR * (b - x_mean)
      b = b + LR * w
    np.testing.assert_allclose(_point(state), (w, b), rtol=1e-5, atol=1e-6)


def test_simultaneous_spirals_out_and_alternating_stays_bounded_on_centred_data():
  radii = {}
  for updates in ("simultaneous", "alternating"):
    run = _bilinear_run(updates, mean=0.0)  # the drift mean(x) is noise around 0
    state = run.init_state()
    start = np.hypot(*_point(state))
    for step in range(STEPS):
      state, _ = run.step(state, step)
    radii[updates] = np.hypot(*_point(state)) / start
  assert radii["simultaneous"] > 1.02 > radii["alternating"] > 0.5


def test_simultaneous_updates_share_one_draw_of_z_between_d_and_g():
  run = _bilinear_run("simultaneous")
  players = run.algorithm.players
  assert players["discriminator"].shares_phase_noise and players["generator"].shares_phase_noise


def test_alternating_is_the_default_and_a_record_without_the_key_runs_it_bit_identically(tmp_path):
  config = tiny_ring_config(num_steps=4, checkpoint_every=4, eval_every=4)
  explicit = train.train_and_evaluate(config, tmp_path / "explicit")
  with config.unlocked():
    del config.algorithm["updates"]
  absent = train.train_and_evaluate(config, tmp_path / "absent")
  for a, b in zip(jax.tree.leaves(explicit.players), jax.tree.leaves(absent.players), strict=True):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
  "overrides, message",
  [
    (
      {"algorithm.updates": "together"},
      r"algorithm.updates = 'together' is not one of \['alternating', 'simultaneous'\]",
    ),
    (
      {"algorithm.updates": "simultaneous", "algorithm.discriminator_steps": 2},
      r"'simultaneous' takes every gradient at one point, so algorithm.discriminator_steps = 2",
    ),
    (
      {"algorithm.updates": "simultaneous", "algorithm.generator_reuses_fakes": True},
      r"with algorithm.updates = 'simultaneous' G's step already takes D's fakes",
    ),
  ],
)
def test_updates_that_cannot_hold_are_refused(overrides, message):
  config = tiny_ring_config()
  apply_overrides(config, overrides)
  with pytest.raises(ConfigError, match=message):
    check_config(config)


# --- activations and initialisers --------------------------------------------------------------


def _kernels(module, inputs):
  params = module.init(jax.random.key(0), inputs, train=False)["params"]
  return [np.asarray(p) for p in jax.tree.leaves(params) if np.ndim(p) == 2]


def test_orthogonal_init_with_gain_gives_gain_times_orthonormal_kernels():
  module = gan.MLPGenerator(
    hidden=(8, 8), batch_norm=False, kernel_init="orthogonal", init_scale=1.4
  )
  for kernel in _kernels(module, jnp.ones((4, 8))):
    rows, cols = kernel.shape
    gram = kernel.T @ kernel if rows >= cols else kernel @ kernel.T
    np.testing.assert_allclose(gram, 1.4**2 * np.eye(min(rows, cols)), atol=1e-5)


@pytest.mark.parametrize("shape", [(256, 128), (2, 128), (128, 2)])
def test_tf1_orthogonal_init_is_orthonormal_with_its_leading_vector_near_all_ones(shape):
  kernel = np.asarray(choices.kernel_init("orthogonal_tf1", 1.4, "m")(jax.random.key(0), shape))
  rows, cols = shape
  tall = rows > cols
  gram = kernel.T @ kernel if tall else kernel @ kernel.T
  np.testing.assert_allclose(gram, 1.4**2 * np.eye(min(shape)), atol=1e-4)
  # The SVD of U[0, 1) numbers: the leading singular vector is close to +-(1, ..., 1) / sqrt(n),
  # where Flax's orthogonal (of normal numbers) has no preferred direction.
  leading = kernel[:, 0] if tall else kernel[0]
  ones = np.ones(len(leading)) / np.sqrt(len(leading))
  assert abs(leading @ ones) / 1.4 > 0.9
  haar = np.asarray(choices.kernel_init("orthogonal", 1.4, "m")(jax.random.key(0), shape))
  assert abs((haar[:, 0] if tall else haar[0]) @ ones) / 1.4 < 0.5


@pytest.mark.parametrize(
  "name, variance",
  [("lecun_normal", lambda i, o: 1 / i), ("he_normal", lambda i, o: 2 / i)]
  + [("xavier_normal", lambda i, o: 2 / (i + o)), ("normal", lambda i, o: 0.02**2)],
)
def test_initialisers_have_their_papers_variance(name, variance):
  module = gan.MLPDiscriminator(hidden=(400,), maxout_pieces=0, kernel_init=name)
  kernel = _kernels(module, jnp.ones((2, 300)))[0]  # 300 -> 400
  # lecun/he/xavier draw a truncated normal rescaled to the variance (Flax's variance_scaling).
  np.testing.assert_allclose(kernel.var(), variance(300, 400), rtol=0.03)


def test_activations_follow_their_formulas():
  x = jnp.linspace(-3, 3, 13)
  np.testing.assert_allclose(choices.activation("tanh", 0.2, "m")(x), np.tanh(x), rtol=1e-6)
  leaky = choices.activation("leaky_relu", 0.1, "m")(x)
  np.testing.assert_allclose(leaky, np.where(x > 0, x, 0.1 * x), rtol=1e-6)
  np.testing.assert_allclose(
    choices.activation("elu", 0.2, "m")(x), np.where(x > 0, x, np.expm1(x)), rtol=1e-6
  )


def test_a_tanh_mlp_computes_tanh_layers():
  module = gan.MLPGenerator(output_dim=2, hidden=(3,), batch_norm=False, activation="tanh")
  z = jax.random.normal(jax.random.key(1), (5, 4))
  params = module.init(jax.random.key(0), z, train=False)["params"]
  hidden = np.tanh(np.asarray(z) @ params["Dense_0"]["kernel"] + params["Dense_0"]["bias"])
  expected = hidden @ params["Dense_1"]["kernel"] + params["Dense_1"]["bias"]
  np.testing.assert_allclose(module.apply({"params": params}, z, train=False), expected, rtol=1e-5)


def test_the_default_initialisers_are_flaxs_and_dcgans_own():
  # So the networks' params are bit-identical to those before the options existed.
  inputs = jnp.ones((1, 7))
  for name, original in (
    ("lecun_normal", nn.initializers.lecun_normal()),  # flax.linen.Dense's default
    ("normal", gan.DCGAN_KERNEL_INIT),  # N(0, 0.02^2)
  ):
    ours = nn.Dense(5, kernel_init=choices.kernel_init(name, None, "m")).init(
      jax.random.key(3), inputs
    )
    theirs = nn.Dense(5, kernel_init=original).init(jax.random.key(3), inputs)
    np.testing.assert_array_equal(ours["params"]["kernel"], theirs["params"]["kernel"])


@pytest.mark.parametrize(
  "options, message",
  [
    ({"activation": "swishh"}, r"unknown activation 'swishh'"),
    (
      {"kernel_init": "he_normal", "init_scale": 2.0},
      r"kernel_init 'he_normal' takes no init_scale",
    ),
    (
      {"kernel_init": "orthogonal", "init_scale": -1.0},
      r"init_scale \(its gain\) must be a number > 0",
    ),
    ({"activation": "tanh", "leaky_slope": 0.1}, r"leaky_slope = 0.1 is leaky_relu's option"),
  ],
)
def test_bad_network_options_are_refused_by_the_config_check(options, message):
  config = tiny_ring_config()
  apply_overrides(config, {f"model.generator.{k}": v for k, v in options.items()})
  with pytest.raises(ConfigError, match=message):
    check_config(config)


def test_maxout_refuses_an_activation_it_would_ignore():
  config = tiny_ring_config()
  apply_overrides(config, {"model.discriminator.activation": "tanh"})
  with pytest.raises(ConfigError, match=r"maxout units are their own activation"):
    check_config(config)


def test_the_command_line_sets_the_papers_settings():
  config = tiny_ring_config()
  overrides = {
    "model.generator.activation": "tanh",
    "model.generator.kernel_init": "orthogonal",
    "model.generator.init_scale": "1.4",
    "model.discriminator.maxout_pieces": "0",
    "model.discriminator.activation": "tanh",
    "algorithm.updates": "simultaneous",
  }
  apply_overrides(config, overrides, parse_strings=True)
  check_config(config)
  assert config.model.generator.init_scale == 1.4
