"""GAN objectives against closed forms: naive formulas, optimal discriminator, JSD identity."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import integrate, stats

from jaxgen import losses


def _naive_value(real_logits, fake_logits):
  """V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))], Goodfellow et al. 2014 eq. 1, written plainly."""
  d_real = 1 / (1 + np.exp(-real_logits))
  d_fake = 1 / (1 + np.exp(-fake_logits))
  return np.mean(np.log(d_real)) + np.mean(np.log(1 - d_fake))


def test_discriminator_loss_is_negated_value():
  rng = np.random.default_rng(0)
  real, fake = rng.normal(size=64) * 3, rng.normal(size=64) * 3
  got = losses.discriminator_minimax_loss(jnp.asarray(real), jnp.asarray(fake))
  np.testing.assert_allclose(got, -_naive_value(real, fake), rtol=1e-5)


@pytest.mark.parametrize("name", ["minimax", "non_saturating"])
def test_generator_losses_match_naive_formulas(name):
  fake = np.linspace(-5, 5, 11)
  d_fake = 1 / (1 + np.exp(-fake))
  expected = {"minimax": np.mean(np.log(1 - d_fake)), "non_saturating": -np.mean(np.log(d_fake))}
  got = losses.get_gan_objective(name).generator_loss(jnp.asarray(fake))
  np.testing.assert_allclose(got, expected[name], rtol=1e-5)


def test_losses_stay_finite_for_extreme_logits():
  extreme = jnp.array([-1e4, -100.0, 0.0, 100.0, 1e4])
  for objective in losses.GAN_OBJECTIVES.values():
    d_loss, d_grad = jax.value_and_grad(objective.discriminator_loss, argnums=(0, 1))(
      extreme, extreme
    )
    g_args = (extreme, extreme) if objective.generator_needs_real else (extreme,)
    g_loss, g_grad = jax.value_and_grad(objective.generator_loss, argnums=0)(*g_args)
    for value in (d_loss, g_loss, *d_grad, g_grad):
      assert np.all(np.isfinite(value))


def test_saturation_minimax_vanishes_non_saturating_does_not():
  """Where D(G(z)) -> 0 (logit -10): d/dl log(1 - sigmoid(l)) = -sigmoid(l) ~ 4.5e-5, while
  d/dl -log sigmoid(l) = -sigmoid(-l) ~ -1 (Goodfellow et al. 2014, sec. 3)."""
  logits = jnp.full((8,), -10.0)
  minimax = jax.grad(losses.generator_minimax_loss)(logits)
  non_saturating = jax.grad(losses.generator_non_saturating_loss)(logits)
  np.testing.assert_allclose(minimax, -jax.nn.sigmoid(logits) / 8, rtol=1e-5)
  np.testing.assert_allclose(non_saturating, -jax.nn.sigmoid(-logits) / 8, rtol=1e-5)
  assert np.all(np.abs(minimax) < 1e-5)
  assert np.all(np.abs(non_saturating) > 0.99 / 8)
  # Both push the logit up (descent direction -grad > 0), so they agree in sign, not in size.
  assert np.all(minimax < 0) and np.all(non_saturating < 0)


def test_unknown_objective_lists_choices():
  with pytest.raises(ValueError, match="non_saturating"):
    losses.get_gan_objective("wasserstein-ish")


# p_data = N(0, 1), p_g = N(1, 0.7^2): log p_data - log p_g is quadratic in x, so a discriminator
# whose logit is a x^2 + b x + c can represent D* = p_data / (p_data + p_g) exactly.
P_DATA, P_G = stats.norm(0.0, 1.0), stats.norm(1.0, 0.7)


def _quadratic_logit(params, x):
  return params[0] * x**2 + params[1] * x + params[2]


def test_training_discriminator_alone_reaches_optimal_discriminator():
  """Goodfellow et al. 2014, Proposition 1: for fixed G the optimum is p_data / (p_data + p_g)."""
  optimizer = optax.adam(0.05)

  def step(carry, key):
    params, opt_state = carry
    real_key, fake_key = jax.random.split(key)
    real = jax.random.normal(real_key, (4096,))
    fake = 1.0 + 0.7 * jax.random.normal(fake_key, (4096,))
    loss_fn = lambda p: losses.discriminator_minimax_loss(
      _quadratic_logit(p, real), _quadratic_logit(p, fake)
    )
    grads = jax.grad(loss_fn)(params)
    updates, opt_state = optimizer.update(grads, opt_state)
    return (optax.apply_updates(params, updates), opt_state), None

  params = jnp.zeros(3)
  keys = jax.random.split(jax.random.key(0), 3000)
  (params, _), _ = jax.jit(lambda c, k: jax.lax.scan(step, c, k))(
    (params, optimizer.init(params)), keys
  )
  grid = np.linspace(-2.0, 2.5, 46)
  d_star = P_DATA.pdf(grid) / (P_DATA.pdf(grid) + P_G.pdf(grid))
  d_learned = jax.nn.sigmoid(_quadratic_logit(params, jnp.asarray(grid)))
  np.testing.assert_allclose(d_learned, d_star, atol=0.03)


def test_value_at_optimal_discriminator_is_jsd_identity():
  """Goodfellow et al. 2014, Theorem 1: V(G, D*) = -log 4 + 2 JSD(p_data || p_g)."""

  def kl_to_mixture(p):
    mixture = lambda x: 0.5 * (P_DATA.pdf(x) + P_G.pdf(x))
    return integrate.quad(lambda x: p.pdf(x) * np.log(p.pdf(x) / mixture(x)), -12, 12)[0]

  jsd = 0.5 * kl_to_mixture(P_DATA) + 0.5 * kl_to_mixture(P_G)
  rng = np.random.default_rng(1)
  real = P_DATA.rvs(size=400_000, random_state=rng)
  fake = P_G.rvs(size=400_000, random_state=rng)
  logit_star = lambda x: P_DATA.logpdf(x) - P_G.logpdf(x)  # logit of D* = log-density ratio
  per_sample_real = -np.logaddexp(0, -logit_star(real))  # log D*(x)
  per_sample_fake = -np.logaddexp(0, logit_star(fake))  # log(1 - D*(G(z)))
  standard_error = np.sqrt(per_sample_real.var() / real.size + per_sample_fake.var() / fake.size)
  value = -losses.discriminator_minimax_loss(
    jnp.asarray(logit_star(real), jnp.float32), jnp.asarray(logit_star(fake), jnp.float32)
  )
  np.testing.assert_allclose(float(value), -np.log(4) + 2 * jsd, atol=5 * standard_error + 1e-5)
  assert jsd > 0.05  # the identity is tested away from the trivial point p_data = p_g
