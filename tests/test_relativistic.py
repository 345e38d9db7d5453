"""The relativistic average GANs (Jolicoeur-Martineau 2019): RaSGAN and RaLSGAN against float64
NumPy transcriptions of the paper's losses, the generator's gradient through the whole algorithm
against a hand-built float64 loss that runs D on the real batch too, the stabilisers it refuses,
and a short run of `ragan_ring8`."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import algorithms, data, losses
from jaxgen.configs import aae_digits, ragan_ring8
from jaxgen.run import train

RNG = np.random.default_rng(0)
REAL, FAKE = RNG.normal(size=24) * 2 + 0.5, RNG.normal(size=32) * 2 - 0.5


def _sigmoid(t):
  return 1 / (1 + np.exp(-t))


def _expected(name, real, fake):
  """(D's loss, G's loss), written as in the paper: D~ is a sigmoid of the relative logit (sec.
  4.3) for RaSGAN; RaLSGAN squares the relative logit's distance to +-1 (appendix)."""
  real_rel, fake_rel = real - fake.mean(), fake - real.mean()
  if name == "ragan":
    d = -np.mean(np.log(_sigmoid(real_rel))) - np.mean(np.log(1 - _sigmoid(fake_rel)))
    g = -np.mean(np.log(_sigmoid(fake_rel))) - np.mean(np.log(1 - _sigmoid(real_rel)))
  else:
    d = np.mean((real_rel - 1) ** 2) + np.mean((fake_rel + 1) ** 2)
    g = np.mean((fake_rel - 1) ** 2) + np.mean((real_rel + 1) ** 2)
  return d, g


@pytest.mark.parametrize("name", ["ragan", "ralsgan"])
def test_losses_match_float64_formulas(name):
  objective = losses.get_gan_objective(name)
  assert objective.generator_needs_real and not objective.has_real_target
  d_expected, g_expected = _expected(name, REAL, FAKE)
  np.testing.assert_allclose(objective.discriminator_loss(REAL, FAKE), d_expected, rtol=1e-5)
  np.testing.assert_allclose(objective.generator_loss(FAKE, REAL), g_expected, rtol=1e-5)
  extreme = jnp.array([-1e4, -100.0, 0.0, 100.0, 1e4])
  for fn in (objective.discriminator_loss, objective.generator_loss):
    value, grads = jax.value_and_grad(fn, argnums=(0, 1))(extreme, extreme[::-1] * 0.5)
    assert all(np.all(np.isfinite(x)) for x in (value, *grads))


def tiny_config(loss="ragan", **switches):
  """ragan_ring8 with tests/tiny_ring8_config.py's networks (G with batch norm), a small batch."""
  config = ragan_ring8.get_config()
  config.algorithm.loss = loss
  config.batch_size = 16
  config.model.generator = {"name": "mlp", "hidden": (16, 16), "batch_norm": True}
  config.model.discriminator = {"name": "mlp", "hidden": (16, 16), "maxout_pieces": 2}
  for key, value in switches.items():
    config.algorithm.stabilisers[key] = value
  return config


def _hand_generator_loss(algorithm, state, batch, z, name):
  """G's loss rebuilt in float64: G and D run as modules on float64 params (G in training mode, D
  as in G's loss), then the paper's formula on C(x_r) and C(x_f)."""
  g, d = state.players["generator"], state.players["discriminator"]
  to64 = lambda tree: jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), tree)
  g_state, d_params = to64(g.model_state), to64(d.params)
  z = jnp.asarray(z, jnp.float64)
  real_x = jnp.asarray(batch["x"], jnp.float64)

  def critic(x):
    return algorithm.discriminator.apply(
      {"params": d_params}, x, None, train=True, mutable=["intermediates"]
    )[0]

  def loss(g_params):
    fake, _ = algorithm.generator.apply(
      {"params": g_params, **g_state}, z, None, train=True, mutable=list(g_state)
    )
    real, fake = critic(real_x), critic(fake)
    real_rel, fake_rel = real - jnp.mean(fake), fake - jnp.mean(real)
    if name == "ragan":
      sig = lambda t: 1 / (1 + jnp.exp(-t))
      return -jnp.mean(jnp.log(sig(fake_rel))) - jnp.mean(jnp.log(1 - sig(real_rel)))
    return jnp.mean((fake_rel - 1) ** 2) + jnp.mean((real_rel + 1) ** 2)

  return loss, to64(g.params)


@pytest.mark.parametrize(
  "name, depends", [("ragan", True), ("ralsgan", True), ("non_saturating", False)]
)
def test_real_batch_enters_the_generator_gradient_only_for_relativistic_objectives(
  setup_algorithm, name, depends
):
  algorithm, state, batch = setup_algorithm(tiny_config(name))
  rng = jax.random.key(3)
  plain, _, _ = algorithm.generator_grads(state, batch, rng)
  shifted, _, _ = algorithm.generator_grads(state, {**batch, "x": batch["x"] * 0.5 + 1.0}, rng)
  pairs = zip(jax.tree.leaves(plain), jax.tree.leaves(shifted), strict=True)
  diffs = [np.max(np.abs(a - b)) for a, b in pairs]
  assert (max(diffs) > 1e-6) == depends, diffs


def _build(config):
  dataset = data.get(config.data.name, **dict(config.data.options))
  return algorithms.get(config.algorithm.name)(config, dataset)


@pytest.mark.parametrize("name", ["ragan", "ralsgan"])
@pytest.mark.parametrize(
  "switches, message",
  [({"feature_matching": True}, "feature_matching"), ({"label_smoothing": 0.1}, "label_smoothing")],
)
def test_refused_stabilisers(name, switches, message):
  with pytest.raises(ValueError, match=message):
    _build(tiny_config(name, **switches))


def test_packing_and_instance_noise_compose(setup_algorithm):
  config = tiny_config(packing=2, instance_noise=0.1)
  algorithm, state, batch = setup_algorithm(config)
  grads, _, metrics = algorithm.generator_grads(state, batch, jax.random.key(1))
  assert np.isfinite(metrics["loss"]) and all(
    np.all(np.isfinite(x)) for x in jax.tree.leaves(grads)
  )


@pytest.mark.parametrize("name, depends", [("ragan", True), ("non_saturating", False)])
def test_the_aae_encoder_reads_d_on_prior_samples_only_for_relativistic_objectives(
  setup_algorithm, name, depends
):
  """The AAE hands its encoder's G loss D on fresh prior samples as the real batch: moving the
  prior's draw (the fold_in tag `aae.ENCODER_PRIOR`) moves the encoder's loss for RaSGAN only."""
  from jaxgen.algorithms import aae

  config = aae_digits.get_config()
  config.algorithm.loss = name
  algorithm, state, batch = setup_algorithm(config)
  params = {k: p.params for k, p in state.players.items()}
  terms = lambda: algorithm.autoencoder_terms(params, state, batch, jax.random.key(5))[0]
  plain = float(terms()["adversarial"])
  tag = aae.ENCODER_PRIOR
  try:
    aae.ENCODER_PRIOR = tag + 100
    moved = float(terms()["adversarial"])
  finally:
    aae.ENCODER_PRIOR = tag
  assert (abs(plain - moved) > 1e-6) == depends, (plain, moved)


def test_registering_an_objective_whose_g_loss_takes_one_argument_is_refused():
  from jaxgen import registry

  one_argument = losses.GanObjective(lambda real, fake: real.mean(), lambda fake: fake.mean())
  with pytest.raises(TypeError, match=r"generator_loss must take \(fake_logits, real_logits\)"):
    registry.register_objective("one_argument_g_loss", one_argument)
  assert "one_argument_g_loss" not in losses.GAN_OBJECTIVES


def test_ragan_ring8_trains_twenty_finite_steps():
  run = train.Run(tiny_config())
  state = run.init_state()
  for step in range(20):
    state, metrics = run.step(state, step)
    losses_now = {k: float(v) for k, v in metrics.items() if k.endswith("/loss")}
    assert set(losses_now) >= {"generator/loss", "discriminator/loss"}, sorted(metrics)
    assert all(np.isfinite(v) for v in losses_now.values()), (step, losses_now)
  assert int(state.step) == 20
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(state.players))
  assert np.all(np.isfinite(run.sample(state, 64)))
