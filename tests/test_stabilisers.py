"""The stabilisers: each function against a hand derivation, then each switch inside the GAN."""

import copy
import dataclasses
import importlib

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import algorithms, data, errors, stabilisers
from jaxgen.algorithms.base import make_train_step
from jaxgen.algorithms.critic import logits_of
from jaxgen.configs import gan_zoo_ring8
from jaxgen.losses import penalties

RNG = np.random.default_rng(0)


# --- pure functions ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2,), (3, 3, 2)], ids=["vectors", "images"])
@pytest.mark.parametrize("m", [1, 2, 3])
def test_packing_concatenates_exactly_m_consecutive_samples(shape, m):
  x = np.arange(6 * np.prod(shape), dtype=np.float32).reshape(6, *shape)
  packed = np.asarray(stabilisers.pack(jnp.asarray(x), m))
  assert packed.shape == (6 // m, *shape[:-1], m * shape[-1])
  for i in range(6 // m):
    np.testing.assert_array_equal(packed[i], np.concatenate(list(x[i * m : (i + 1) * m]), axis=-1))


def test_packing_needs_a_divisible_batch():
  with pytest.raises(ValueError, match="divisible by m"):
    stabilisers.pack(jnp.zeros((5, 2)), 2)


def test_stabilisers_are_all_off_by_default_and_validated():
  defaults = stabilisers.Stabilisers()
  assert defaults.label_smoothing == 0.0  # no silent smoothing
  assert not any(
    [
      defaults.instance_noise,
      defaults.feature_matching,
      defaults.spectral_norm,
      defaults.historical_averaging,
      defaults.minibatch_discrimination,
      defaults.replay_fraction,
      defaults.generator_ema,
      defaults.packing > 1,
    ]
  )
  assert dict(stabilisers.default_config()) == dataclasses.asdict(defaults)
  with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0.0, 1.0\)"):
    stabilisers.Stabilisers(label_smoothing=1.0)
  with pytest.raises(ValueError, match="packing must be an integer >= 1"):
    stabilisers.Stabilisers(packing=0)
  with pytest.raises(ValueError, match="Unknown stabilisers.*'packing'"):
    stabilisers.Stabilisers.from_config({"packin": 2})


@pytest.mark.parametrize(
  "name", ["gan_ring8", "gan_grid25", "dcgan_digits", "cgan_digits", "dcgan_mnist", "wgan_ring8"]
)
def test_every_gan_config_carries_the_switches_all_off_but_its_own(name):
  config = importlib.import_module(f"jaxgen.configs.{name}").get_config()
  switches = config.algorithm.stabilisers.to_dict()  # settable from the command line
  assert switches == dataclasses.asdict(stabilisers.Stabilisers())
  assert config.algorithm.penalty.name == "none"
  assert config.algorithm.weight_clip == (0.01 if name == "wgan_ring8" else 0.0)


@pytest.mark.parametrize("step, expected", [(0, 0.5), (25, 0.375), (100, 0.0), (150, 0.0)])
def test_instance_noise_anneals_linearly_to_zero(step, expected):
  # sigma (1 - t / T) with sigma = 0.5, T = 100; 0 after T.
  np.testing.assert_allclose(stabilisers.instance_noise_std(jnp.asarray(step), 0.5, 100), expected)
  np.testing.assert_allclose(stabilisers.instance_noise_std(jnp.asarray(step), 0.5, 0), 0.5)


def test_running_mean_and_historical_averaging_penalty():
  history = [{"w": RNG.normal(size=3)} for _ in range(4)]
  mean = {"w": np.zeros(3)}
  for count, params in enumerate(history):
    mean = stabilisers.running_mean(mean, params, count)
  np.testing.assert_allclose(mean["w"], np.mean([h["w"] for h in history], axis=0), rtol=1e-6)
  theta = {"w": RNG.normal(size=3)}
  penalty = stabilisers.historical_averaging_penalty(theta, mean, jnp.asarray(4), 0.1)
  np.testing.assert_allclose(penalty, 0.1 * np.sum((theta["w"] - mean["w"]) ** 2), rtol=1e-6)
  assert stabilisers.historical_averaging_penalty(theta, mean, jnp.asarray(0), 0.1) == 0.0


def test_debiased_ema_is_the_normalised_weighted_average():
  decay, history = 0.9, RNG.normal(size=(5, 3))
  ema = {"w": np.zeros(3)}
  for theta in history:
    ema = stabilisers.ema_update(ema, {"w": theta}, decay)
  weights = (1 - decay) * decay ** np.arange(4, -1, -1)  # theta_t weighs (1 - d) d^(n - t)
  expected = weights @ history / weights.sum()
  got = stabilisers.debiased_ema(ema, {"w": history[-1]}, jnp.asarray(5), decay)
  np.testing.assert_allclose(got["w"], expected, rtol=1e-5)
  fresh = stabilisers.debiased_ema(ema, {"w": history[-1]}, jnp.asarray(0), decay)
  np.testing.assert_allclose(fresh["w"], history[-1], rtol=1e-6)


def test_replay_buffer_ring_and_mix():
  buffer = jnp.zeros((5, 2))
  buffer = stabilisers.replay_push(
    buffer, jnp.asarray(4), jnp.ones((3, 2)) * jnp.arange(1, 4)[:, None]
  )
  np.testing.assert_array_equal(buffer[:, 0], [2, 3, 0, 0, 1])  # positions 4, 0, 1
  fake = -jnp.ones((8, 2))
  unchanged = stabilisers.replay_mix(fake, buffer, jnp.asarray(0), 0.5, jax.random.key(0))
  np.testing.assert_array_equal(unchanged, fake)  # an empty buffer replays nothing
  mixed = np.asarray(stabilisers.replay_mix(fake, buffer, jnp.asarray(2), 0.5, jax.random.key(0)))
  assert set(mixed[:4, 0]) <= {2.0, 3.0}  # drawn from the two filled slots only
  np.testing.assert_array_equal(mixed[4:], -1.0)


def test_spectral_normalisation_converges_to_unit_spectral_norm():
  params = {
    "dense": {"kernel": jnp.asarray(RNG.normal(size=(6, 4)) * 3, jnp.float32), "bias": jnp.ones(4)},
    "conv": {"kernel": jnp.asarray(RNG.normal(size=(3, 3, 2, 5)), jnp.float32)},
  }
  vectors = stabilisers.init_spectral_vectors(params, jax.random.key(0))
  assert sorted(vectors) == ["conv/kernel", "dense/kernel"]
  for _ in range(50):
    normalised, vectors = stabilisers.spectral_normalise(params, vectors)
  for path, kernel in (("dense", params["dense"]["kernel"]), ("conv", params["conv"]["kernel"])):
    matrix = np.asarray(normalised[path]["kernel"]).reshape(-1, kernel.shape[-1])
    np.testing.assert_allclose(np.linalg.svd(matrix, compute_uv=False)[0], 1.0, rtol=1e-4)
  np.testing.assert_array_equal(normalised["dense"]["bias"], params["dense"]["bias"])


def test_one_power_iteration_by_hand():
  w, u = RNG.normal(size=(3, 2)), np.array([0.6, 0.8])
  v = w @ u / np.linalg.norm(w @ u)  # flax layout [in, out]: M = W^T, v <- M u / ||M u||
  new_u = w.T @ v / np.linalg.norm(w.T @ v)
  sigma = v @ w @ new_u
  normalised, vectors = stabilisers.spectral_normalise(
    {"k": jnp.asarray(w, jnp.float32)}, {"k": jnp.asarray(u, jnp.float32)}
  )
  np.testing.assert_allclose(vectors["k"], new_u, rtol=1e-5)
  np.testing.assert_allclose(normalised["k"], w / sigma, rtol=1e-5)


# --- the switches inside the GAN -----------------------------------------------------------------


def tiny_config(**switches):
  config = gan_zoo_ring8.get_config()
  config.batch_size = 16
  config.model.generator = {"name": "mlp", "hidden": (8,), "batch_norm": False}
  config.model.discriminator = {"name": "mlp", "hidden": (8,), "maxout_pieces": 2}
  for key, value in switches.items():
    config.algorithm.stabilisers[key] = value
  return config


def test_label_smoothing_adds_s_times_the_mean_real_logit_to_the_discriminator_loss(
  setup_algorithm,
):
  """t softplus(-l) + (1 - t) softplus(l) - softplus(-l) = (1 - t)(softplus(l) - softplus(-l))
  = s l with t = 1 - s: smoothing shifts D's loss by s mean(l_real), nothing else."""
  plain, state, batch = setup_algorithm(tiny_config())
  smooth, _, _ = setup_algorithm(tiny_config(label_smoothing=0.2))
  fake, _, _ = plain.make_fakes(state, jax.random.key(1), batch)
  params = state.players["discriminator"].params
  args = (state, params, batch, fake, {}, jax.random.key(2))
  plain_loss, (_, metrics) = plain.discriminator_loss(*args)
  smooth_loss, _ = smooth.discriminator_loss(*args)
  np.testing.assert_allclose(
    smooth_loss - plain_loss, 0.2 * metrics["real_logit"], rtol=1e-4, atol=1e-6
  )


@pytest.mark.parametrize("loss", ["hinge", "wasserstein"])
def test_label_smoothing_is_refused_for_objectives_without_targets(loss, setup_algorithm):
  config = tiny_config(label_smoothing=0.1)
  config.algorithm.loss = loss
  with pytest.raises(ValueError, match="label_smoothing = 0.1 is not supported.*real target"):
    setup_algorithm(config)


def test_instance_noise_reaches_both_real_and_fake_inputs_and_vanishes_after_annealing(
  setup_algorithm,
):
  algorithm, state, _ = setup_algorithm(
    tiny_config(instance_noise=0.5, instance_noise_anneal_steps=10)
  )
  x = jnp.zeros((4096, 2))
  noisy = algorithm.critic.inputs(state.step, x, jax.random.key(0))
  np.testing.assert_allclose(np.std(np.asarray(noisy)), 0.5, rtol=0.05)
  later = state.replace(step=jnp.asarray(10))
  np.testing.assert_array_equal(algorithm.critic.inputs(later.step, x, jax.random.key(0)), x)


def test_minibatch_discrimination_makes_a_logit_depend_on_the_other_samples(setup_algorithm):
  x = jnp.asarray(RNG.normal(size=(4, 2)), jnp.float32)
  changed = x.at[3].set(x[3] + 5.0)
  for kernels, depends in ((0, False), (6, True)):
    algorithm, state, _ = setup_algorithm(tiny_config(minibatch_discrimination=kernels))
    d = state.players["discriminator"]
    first = logits_of(algorithm.critic(d.params, d.model_state, x, None)[0])[:3]
    second = logits_of(algorithm.critic(d.params, d.model_state, changed, None)[0])[:3]
    assert (not np.allclose(first, second)) == depends


def _build(config):
  dataset = data.get(config.data.name, **dict(config.data.options))
  return algorithms.get(config.algorithm.name)(config, dataset)


@pytest.mark.parametrize("penalty", sorted(penalties.PENALTIES))
def test_a_gradient_penalty_with_minibatch_discrimination_is_refused(penalty):
  """The penalties' per-sample norms of grad_x sum_i D(x_i) are D's per-sample gradients only when
  D(x_i) does not read x_j; minibatch discrimination makes it read them."""
  config = tiny_config(minibatch_discrimination=4)
  config.algorithm.penalty = {"name": penalty, "weight": 10.0}
  with pytest.raises(errors.ConfigError) as raised:
    _build(config)
  message = str(raised.value)
  for text in (
    f"algorithm.penalty.name = {penalty!r}",
    "algorithm.stabilisers.minibatch_discrimination = 4",
    "per-sample gradients",
    "mixes samples in D",
    "Turn one off",
  ):
    assert text in message, message


@pytest.mark.parametrize("penalty", sorted(penalties.PENALTIES))
def test_each_gradient_penalty_alone_is_accepted(penalty):
  config = tiny_config()
  config.algorithm.penalty = {"name": penalty, "weight": 10.0}
  assert _build(config).penalty is not None


def test_minibatch_discrimination_alone_is_accepted():
  algorithm = _build(tiny_config(minibatch_discrimination=4))
  assert algorithm.penalty is None and algorithm.stabilisers.minibatch_discrimination == 4


def test_feature_matching_replaces_the_generator_loss(setup_algorithm):
  plain, state, batch = setup_algorithm(tiny_config())
  matching, _, _ = setup_algorithm(tiny_config(feature_matching=True))
  rng = jax.random.key(4)
  g = state.players["generator"].params
  _, (_, plain_metrics) = plain.generator_loss(state, g, batch, rng)
  _, (_, metrics) = matching.generator_loss(state, g, batch, rng)
  fake, _, _ = plain.make_fakes(state, rng, batch)
  d = state.players["discriminator"]
  features = lambda x: plain.discriminator.apply(
    {"params": d.params}, x, train=True, mutable=["intermediates"]
  )[1]["intermediates"]["features"][0]
  expected = np.sum((np.mean(features(batch["x"]), 0) - np.mean(features(fake), 0)) ** 2)
  np.testing.assert_allclose(metrics["loss"], expected, rtol=1e-4)
  assert not np.isclose(metrics["loss"], plain_metrics["loss"])


@pytest.fixture(scope="module")
def memory_run(setup_algorithm):
  """Four train steps of a GAN with historical averaging, generator EMA and replay on, recording
  the params after every step."""
  config = tiny_config(
    historical_averaging=0.1, generator_ema=0.5, replay_fraction=0.25, replay_capacity=10
  )
  algorithm, state, batch = setup_algorithm(config)
  step = jax.jit(make_train_step(algorithm))
  batches = jax.tree.map(lambda x: jnp.stack([x, x]), batch)
  history = []
  for _ in range(4):
    state, metrics = step(state, batches)
    history.append(jax.tree.map(np.asarray, {k: p.params for k, p in state.players.items()}))
  return algorithm, state, history, metrics


def test_historical_average_is_the_mean_of_the_past_params(memory_run):
  _, state, history, metrics = memory_run
  for player in ("generator", "discriminator"):
    expected = jax.tree.map(lambda *xs: np.mean(xs, axis=0), *[h[player] for h in history])
    got = state.extra["history_mean"][player]
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected), strict=True):
      np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
  assert all(np.isfinite(v) for v in jax.tree.leaves(metrics))


def test_generator_ema_is_used_for_sampling(memory_run):
  algorithm, state, history, _ = memory_run
  weights = 0.5 * 0.5 ** np.arange(3, -1, -1)  # (1 - d) d^(n - t), d = 0.5, n = 4
  expected = jax.tree.map(
    lambda *xs: np.tensordot(weights, np.stack(xs), 1) / weights.sum(),
    *[h["generator"] for h in history],
  )
  rng = jax.random.key(9)
  samples = algorithm.sample(state, rng, 5)
  z = algorithm.latents(rng, 5)
  by_hand = algorithm.generator.apply({"params": expected}, z, train=False)
  np.testing.assert_allclose(samples, by_hand, rtol=1e-4, atol=1e-6)
  current = algorithm.generator.apply({"params": history[-1]["generator"]}, z, train=False)
  assert not np.allclose(samples, current)


def test_replay_buffer_holds_the_pushed_fakes(memory_run):
  algorithm, state, _, _ = memory_run
  assert algorithm.memory.replay_push_size == 4  # round(0.25 * 16)
  buffer = np.asarray(state.extra["replay_buffer"])
  assert np.all(np.any(buffer != 0, axis=1))  # 4 steps x 4 fakes wrapped round 10 slots


def test_replay_needs_unconditional_fakes(setup_algorithm):
  config = tiny_config(replay_fraction=0.5)
  config.conditional = True
  with pytest.raises(ValueError, match="unconditional fakes"):
    setup_algorithm(config)


def test_spectral_norm_switch_runs_d_on_each_weight_over_its_largest_singular_value(
  setup_algorithm,
):
  """Miyato et al. 2018, eq. 8: D runs on W / sigma(W). sigma here is the largest singular value
  from NumPy's float64 SVD; D's persistent power iteration (one step per call) has converged."""
  algorithm, state, _ = setup_algorithm(tiny_config(spectral_norm=True))
  d = state.players["discriminator"]
  vectors = d.model_state[stabilisers.SPECTRAL_VECTORS]
  assert set(vectors) == {"Dense_0/kernel", "Maxout_0/Dense_0/kernel"}
  x = jnp.asarray(RNG.normal(size=(4, 2)), jnp.float32)

  def discriminate(model_state):
    outputs, _, model_state = algorithm.critic(d.params, model_state, x, None)
    return logits_of(outputs), model_state

  discriminate = jax.jit(discriminate)
  model_state = d.model_state
  for _ in range(300):
    logits, model_state = discriminate(model_state)
  path = "Maxout_0/Dense_0/kernel"  # (the output layer's u is a scalar, +-1)
  assert not np.allclose(model_state[stabilisers.SPECTRAL_VECTORS][path], vectors[path])
  flat = flax.traverse_util.flatten_dict(jax.tree.map(np.asarray, d.params), sep="/")
  for name in vectors:
    kernel = flat[name].astype(np.float64)
    sigma = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
    flat[name] = kernel / sigma
  by_svd = flax.traverse_util.unflatten_dict(flat, sep="/")
  by_svd = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), by_svd)
  expected = algorithm.discriminator.apply({"params": by_svd}, x, train=True)
  np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)
  raw = algorithm.discriminator.apply({"params": d.params}, x, train=True)
  assert np.max(np.abs(raw - expected)) > 1e-2  # the normalisation changes D's output


def test_ttur_is_two_learning_rates(setup_algorithm):
  """Heusel et al. 2017: each player takes SGD steps with its own learning rate. One train step in
  which each player descends L(theta) = 0.5 ||theta - 1||^2, whose gradient is theta - 1 in closed
  form: theta' = theta - lr (theta - 1), by hand in float64."""
  rates = {"generator": 0.1, "discriminator": 0.4}
  config = tiny_config()
  for player, lr in rates.items():
    config.optimizer[player] = {"name": "sgd", "learning_rate": lr}
  algorithm, state, batch = setup_algorithm(config)

  def quadratic_grad_fn(name):
    def grad_fn(state, batch, rng):
      del batch, rng
      loss = lambda p: 0.5 * sum(jnp.sum(jnp.square(leaf - 1.0)) for leaf in jax.tree.leaves(p))
      return jax.grad(loss)(state.players[name].params), state.players[name].model_state, {}

    return grad_fn

  quadratic = copy.copy(algorithm)
  quadratic.players = {
    name: dataclasses.replace(player, grad_fn=quadratic_grad_fn(name))
    for name, player in algorithm.players.items()
  }
  quadratic.schedule = (("discriminator", "generator"),)  # one phase: one step each
  batches = {k: v[None] for k, v in batch.items()}
  stepped, _ = jax.jit(make_train_step(quadratic))(state, batches)
  for player, lr in rates.items():
    before = jax.tree.leaves(state.players[player].params)
    after = jax.tree.leaves(stepped.players[player].params)
    for theta, new in zip(before, after, strict=True):
      theta = np.asarray(theta, np.float64)
      np.testing.assert_allclose(new, theta - lr * (theta - 1.0), rtol=1e-6, atol=1e-7)
