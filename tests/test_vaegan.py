"""VAE-GAN's three split updates (Larsen et al. 2016, Algorithm 1) against losses built by hand."""

import copy

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.algorithms.base import make_train_step
from jaxgen.algorithms.vaegan import equilibrium_gates
from jaxgen.configs import vaegan_digits

PLAYERS = ("encoder", "decoder", "discriminator")
# The rng the tests hand a grad_fn; it draws all the noise (eps, z ~ p(z)) of the player's losses.
NOISE_KEY = jax.random.key(9)


def tiny_config(**algorithm):
  config = vaegan_digits.get_config()
  config.data.options = {"size": 8}
  config.batch_size = 8
  config.model.latent_dim = 3
  config.model.encoder = {"name": "conv", "base_features": 4, "hidden": 8}
  config.model.decoder = {"name": "conv", "base_features": 4}
  config.model.discriminator = {"name": "dcgan", "base_features": 4}
  config.algorithm.gamma = 0.3
  config.algorithm.equilibrium_gating = False
  for key, value in algorithm.items():
    config.algorithm[key] = value
  return config


@pytest.fixture(scope="module")
def vaegan(setup_algorithm):
  return setup_algorithm(tiny_config())


def grads_of(algorithm, state, batch):
  step = jax.jit(lambda s, b: {p: algorithm.players[p].grad_fn(s, b, NOISE_KEY) for p in PLAYERS})
  return step(state, batch)


@pytest.fixture(scope="module")
def vaegan_grads(vaegan):
  return grads_of(*vaegan)


def hand_built_terms(algorithm, state, batch, params):
  """L_prior, L_llike^Dis_l and L_GAN written out from the modules (Larsen et al. 2016, eq. 3-8)."""
  x = batch["x"]
  eps_key, prior_key = jax.random.split(NOISE_KEY)

  def run(module, player, *args):
    variables = {"params": params[player], **state.players[player].model_state}
    out, collections = module.apply(
      variables, *args, train=True, mutable=["batch_stats", "intermediates"]
    )
    return out, collections.get("intermediates", {})

  (mean, log_variance), _ = run(algorithm.encoder, "encoder", x)
  z = mean + jnp.exp(log_variance / 2) * jax.random.normal(eps_key, mean.shape)
  z_prior = jax.random.normal(prior_key, mean.shape)
  image = lambda logits: 2 * jax.nn.sigmoid(logits) - 1
  x_tilde = image(run(algorithm.decoder, "decoder", z)[0])
  x_prior = image(run(algorithm.decoder, "decoder", z_prior)[0])
  d_real, real_inter = run(algorithm.discriminator, "discriminator", x)
  d_prior, _ = run(algorithm.discriminator, "discriminator", x_prior)
  d_tilde, tilde_inter = run(algorithm.discriminator, "discriminator", x_tilde)
  features = lambda inter: inter["features"][0].reshape((x.shape[0], -1))
  diff = features(real_inter) - features(tilde_inter)
  num_features = diff.shape[1]
  prob = jax.nn.sigmoid
  return {
    "prior": jnp.mean(0.5 * jnp.sum(mean**2 + jnp.exp(log_variance) - 1 - log_variance, axis=1)),
    # -log N(Dis_l(x); Dis_l(x~), I)
    "llike": jnp.mean(0.5 * jnp.sum(diff**2, axis=1) + 0.5 * num_features * jnp.log(2 * jnp.pi)),
    # -(log D(x) + log(1 - D(x_p)) + log(1 - D(x~)))
    "gan": -(
      jnp.mean(jnp.log(prob(d_real)))
      + jnp.mean(jnp.log(1 - prob(d_prior)))
      + jnp.mean(jnp.log(1 - prob(d_tilde)))
    ),
  }


def stated_loss(player, gamma):
  """Larsen et al. 2016, Algorithm 1: the loss each player descends."""
  return {
    "encoder": lambda t: t["prior"] + t["llike"],
    "decoder": lambda t: gamma * t["llike"] - t["gan"],
    "discriminator": lambda t: t["gan"],
  }[player]


def expected_grads(algorithm, state, batch, player, loss):
  params = {p: state.players[p].params for p in PLAYERS}
  return jax.grad(
    lambda own: loss(hand_built_terms(algorithm, state, batch, {**params, player: own}))
  )(params[player])


def assert_trees_close(a, b, rtol=1e-4):
  """Leaf-wise closeness; float32 round-off is judged against the leaf's largest entry."""
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * float(jnp.max(jnp.abs(y))))


@pytest.mark.parametrize("player", PLAYERS)
def test_each_gradient_function_is_the_gradient_of_its_stated_loss(vaegan, vaegan_grads, player):
  algorithm, state, batch = vaegan
  loss = stated_loss(player, algorithm.gamma)
  assert_trees_close(vaegan_grads[player][0], expected_grads(algorithm, state, batch, player, loss))


def test_encoder_gets_no_gan_gradient_and_discriminator_no_llike_gradient(vaegan, vaegan_grads):
  """The gradients differ from those of the losses with the forbidden term added."""
  algorithm, state, batch = vaegan
  with_gan = expected_grads(
    algorithm, state, batch, "encoder", lambda t: t["prior"] + t["llike"] + t["gan"]
  )
  with_llike = expected_grads(
    algorithm, state, batch, "discriminator", lambda t: t["gan"] + t["llike"]
  )
  for forbidden, player in ((with_gan, "encoder"), (with_llike, "discriminator")):
    differences = [
      float(jnp.max(jnp.abs(x - y)))
      for x, y in zip(
        jax.tree.leaves(forbidden), jax.tree.leaves(vaegan_grads[player][0]), strict=True
      )
    ]
    assert max(differences) > 1e-3, player


def test_gamma_scales_only_the_decoders_llike_term(vaegan, vaegan_grads, setup_algorithm):
  algorithm, state, batch = vaegan
  other_algorithm, _, _ = setup_algorithm(tiny_config(gamma=2.3))
  other = grads_of(other_algorithm, state, batch)
  for player in ("encoder", "discriminator"):
    assert_trees_close(other[player][0], vaegan_grads[player][0], rtol=1e-6)
  llike = expected_grads(algorithm, state, batch, "decoder", lambda t: t["llike"])
  predicted = jax.tree.map(
    lambda g, g_llike: g + (2.3 - 0.3) * g_llike, vaegan_grads["decoder"][0], llike
  )
  assert_trees_close(other["decoder"][0], predicted)


def test_llike_weight_does_not_reach_the_discriminator(vaegan, vaegan_grads, setup_algorithm):
  """feature_reduction='mean' divides L_llike by the number of features: the encoder's and the
  decoder's gradients change, the discriminator's does not."""
  algorithm, state, batch = vaegan
  mean_algorithm, _, _ = setup_algorithm(tiny_config(feature_reduction="mean"))
  other = grads_of(mean_algorithm, state, batch)
  assert_trees_close(other["discriminator"][0], vaegan_grads["discriminator"][0], rtol=1e-6)
  changed = jax.tree.map(
    lambda a, b: jnp.max(jnp.abs(a - b)), other["encoder"][0], vaegan_grads["encoder"][0]
  )
  assert max(map(float, jax.tree.leaves(changed))) > 1e-3


def test_one_phase_step_equals_each_player_stepping_alone(vaegan):
  """All three gradients are taken at the same point: the joint step applies, per player, exactly
  the update that player makes alone in the phase, and a lone player leaves the others
  bit-identical."""
  algorithm, state, batch = vaegan
  assert algorithm.schedule == (PLAYERS,)
  batches = jax.tree.map(lambda x: x[None], batch)
  steps = {"joint": make_train_step(algorithm)}
  for player in PLAYERS:
    alone = copy.copy(algorithm)
    alone.schedule = ((player,),)
    steps[player] = make_train_step(alone)
  results = jax.jit(lambda s, b: {name: step(s, b)[0] for name, step in steps.items()})(
    state, batches
  )
  for player in PLAYERS:
    single = results[player]
    assert_trees_close(single.players[player].params, results["joint"].players[player].params, 1e-5)
    for other in PLAYERS:
      if other != player:
        for a, b in zip(
          jax.tree.leaves(single.players[other]), jax.tree.leaves(state.players[other]), strict=True
        ):
          np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
  "real, fake, update_dis, update_dec",
  [
    (0.7, 0.7, True, True),  # inside the band: both learn
    (0.2, 0.7, False, True),  # D wins on real data: D pauses
    (0.7, 0.3, False, True),  # D wins on fakes: D pauses
    (1.1, 0.7, True, False),  # D loses badly: Dec pauses
    (0.2, 1.1, True, True),  # both would pause: both learn
  ],
)
def test_equilibrium_gates_follow_the_reference_rule(real, fake, update_dis, update_dec):
  gates = equilibrium_gates(jnp.float32(real), jnp.float32(fake), 0.68, 0.35)
  assert (bool(gates[0]), bool(gates[1])) == (update_dis, update_dec)


def test_gated_players_pass_the_gate_to_their_optimizer_as_apply(setup_algorithm):
  algorithm, _, _ = setup_algorithm(tiny_config(equilibrium_gating=True))
  values = {"encoder": {}, "decoder": {"updated": jnp.float32(0.0)}}
  values["discriminator"] = {"updated": jnp.float32(1.0)}
  assert algorithm.update_args("encoder", values) == {}
  assert not bool(algorithm.update_args("decoder", values)["apply"])
  assert bool(algorithm.update_args("discriminator", values)["apply"])


def test_gated_discriminator_step_leaves_it_and_its_optimizer_untouched(setup_algorithm):
  """equilibrium 50: every cost is below equilibrium - margin, so D pauses and Dec learns."""
  algorithm, state, batch = setup_algorithm(
    tiny_config(equilibrium_gating=True, equilibrium=50.0, equilibrium_margin=0.35)
  )
  new_state, metrics = jax.jit(make_train_step(algorithm))(
    state, jax.tree.map(lambda x: x[None], batch)
  )
  assert float(metrics["discriminator/updated"]) == 0.0 and float(metrics["decoder/updated"]) == 1.0
  for a, b in zip(
    jax.tree.leaves(
      (new_state.players["discriminator"].params, new_state.players["discriminator"].opt_state)
    ),
    jax.tree.leaves(
      (state.players["discriminator"].params, state.players["discriminator"].opt_state)
    ),
    strict=True,
  ):
    np.testing.assert_array_equal(a, b)
  changed = jax.tree.map(
    lambda a, b: bool(jnp.any(a != b)),
    new_state.players["decoder"].params,
    state.players["decoder"].params,
  )
  assert any(jax.tree.leaves(changed))


@pytest.mark.parametrize(
  "key, value, message",
  [
    ("gamma", -1.0, "gamma"),
    ("loss", "wasserstein", "non_saturating"),
    ("feature_reduction", "max", "'mean', 'sum'"),
    ("discriminator_init", "xavier", "lecun"),
    ("equilibrium_margin", 0.0, "equilibrium_margin"),
  ],
)
def test_bad_vaegan_settings_are_named(key, value, message, setup_algorithm):
  overrides = {key: value}
  if key == "equilibrium_margin":
    overrides["equilibrium_gating"] = True
  with pytest.raises(ValueError, match=message):
    setup_algorithm(tiny_config(**overrides))
