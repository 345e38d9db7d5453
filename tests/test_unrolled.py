"""The unrolled GAN's generator gradient against Metz et al. 2016, eq. 10-12, written out in jnp.

Nothing of jaxgen computes the references here: G (Dense -> batch norm -> ReLU -> Dense) and D
(maxout -> Dense) are jnp functions of the raw parameter arrays, D's K optimizer steps are written
out one by one, and the surrogate is the paper's f at theta_D^K:

  f(theta_G, theta_D) = E_x log D(x; theta_D) + E_z log(1 - D(G(z; theta_G); theta_D)),
  theta_D^0 = theta_D,  theta_D^{k+1} = theta_D^k + eta^k df(theta_G, theta_D^k) / dtheta_D^k,
  G descends f_K(theta_G, theta_D) = f(theta_G, theta_D^K(theta_G, theta_D)).

For the non-saturating objective (not zero-sum) G descends its own loss -E log D(G(z)) at
theta_D^K instead, with no real term (Foerster et al. 2018, LOLA, sec. 3.2: a player's own
objective at the opponent's look-ahead). The library's G gradient is compared with jax.grad of
these functions and with their central finite differences (float64, the tiny networks and data of
`gradient_cases_gan`), and the real term's share of the zero-sum gradient is checked to be far
from zero.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradient_cases_gan import LATENT, Spec, make_config
from gradient_harness import build, random_direction

from jaxgen import losses
from jaxgen.algorithms import unrolled

RNG_SEED = 11
BATCH_NORM_EPSILON = 1e-5  # the networks' batch norm (TensorFlow DCGAN's epsilon)
MOMENTUM = (("name", "momentum"), ("learning_rate", 0.5), ("beta", 0.5))
ADAM = (("name", "adam"), ("learning_rate", 0.05), ("eps_root", 1e-8))
WEIGHT_CLIP = 0.3
FD_EPSILON = 1e-6  # central differences in float64: truncation ~eps^2, round-off ~1e-16 / eps
FD_DIRECTIONS = 3
# The real term's share of G's gradient, ||g_full - g_fake|| / ||g_full||: measured 1.17 (minimax,
# momentum), 0.23 (minimax, Adam, K = 3) and 0.39 (Wasserstein, clip) at these cases' initial state.
REAL_SHARE_FLOOR = 0.1
# Along one random direction d, |d . (g_full - g_fake)| / ||g_full - g_fake||: measured 0.24-0.74.
REAL_ALONG_FLOOR = 0.05


# --- the networks, from the raw parameter arrays -------------------------------------------------


def generator(p, z):
  """Dense (no bias) -> batch norm on the batch's statistics (Ioffe & Szegedy 2015, Alg. 1: mean,
  biased variance, epsilon) -> ReLU -> Dense."""
  h = z @ p["Dense_0"]["kernel"]
  mean = jnp.mean(h, axis=0)
  var = jnp.mean((h - mean) ** 2, axis=0)
  h = (h - mean) / jnp.sqrt(var + BATCH_NORM_EPSILON)
  h = jnp.maximum(h * p["BatchNorm_0"]["scale"] + p["BatchNorm_0"]["bias"], 0.0)
  return h @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"]


def discriminator(p, x, pieces=2):
  """Maxout layer (Goodfellow et al. 2013, eq. 1: unit j is the max of its `pieces` affine maps,
  columns j * pieces ... j * pieces + pieces - 1) -> Dense to one logit per sample."""
  a = x @ p["Maxout_0"]["Dense_0"]["kernel"] + p["Maxout_0"]["Dense_0"]["bias"]
  h = jnp.max(a.reshape(a.shape[0], -1, pieces), axis=-1)
  return (h @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"])[:, 0]


def log_sigmoid(t):
  return -jnp.logaddexp(0.0, -t)  # log 1 / (1 + e^-t)


# --- the game and D's look-ahead -----------------------------------------------------------------


def terms(loss, real_logits, fake_logits):
  """(real term, fake term) of the value f that D ascends."""
  if loss in ("minimax", "non_saturating"):
    # Goodfellow et al. 2014, eq. 1: E log D(x) + E log(1 - D(G(z))), D = sigmoid(logit).
    return jnp.mean(log_sigmoid(real_logits)), jnp.mean(log_sigmoid(-fake_logits))
  if loss == "wasserstein":
    # Arjovsky et al. 2017, eq. 3: E f(x) - E f(G(z)).
    return jnp.mean(real_logits), -jnp.mean(fake_logits)
  raise AssertionError(loss)


def value(loss, d_params, real, fake):
  return sum(terms(loss, discriminator(d_params, real), discriminator(d_params, fake)))


def optimizer_step(options, g, slots, t):
  """D's optimizer's parameter change at step t = 0, 1, ... and its new slots (None at first)."""
  lr = options["learning_rate"]
  if options["name"] == "momentum":
    # Polyak 1964 in torch.optim.SGD's buffer form: b_1 = g_0, b_{t+1} = beta b_t + g_t; -lr b.
    beta = options["beta"]
    buffer = g if slots is None else jax.tree.map(lambda b, g_: beta * b + g_, slots, g)
    return jax.tree.map(lambda b: -lr * b, buffer), buffer
  # Kingma & Ba 2015, Alg. 1 (b1 0.9, b2 0.999, eps 1e-8; optax's eps_root inside the root).
  b1, b2, eps, eps_root, n = 0.9, 0.999, 1e-8, options["eps_root"], t + 1
  m, v = slots or (jax.tree.map(jnp.zeros_like, g), jax.tree.map(jnp.zeros_like, g))
  m = jax.tree.map(lambda m_, g_: b1 * m_ + (1 - b1) * g_, m, g)
  v = jax.tree.map(lambda v_, g_: b2 * v_ + (1 - b2) * g_**2, v, g)
  step = lambda m_, v_: -lr * m_ / (1 - b1**n) / (jnp.sqrt(v_ / (1 - b2**n) + eps_root) + eps)
  return jax.tree.map(step, m, v), (m, v)


def look_ahead(spec, d_params, real, fake):
  """theta_D^K: K steps of D's optimizer ascending f on (real, fake) (Metz et al. 2016, sec. 2:
  theta_D^{k+1} = theta_D^k + eta^k df / dtheta_D^k), the weight clip after each step (Arjovsky
  et al. 2017, Alg. 1, l. 7)."""
  grad = jax.grad(lambda p: -value(spec.loss, p, real, fake))  # D descends -f
  clip = lambda w: jnp.clip(w, -spec.weight_clip, spec.weight_clip)
  slots = None
  for t in range(spec.option("unroll_steps", 2)):
    change, slots = optimizer_step(dict(spec.d_optimizer), grad(d_params), slots, t)
    d_params = jax.tree.map(jnp.add, d_params, change)
    d_params = jax.tree.map(clip, d_params) if spec.weight_clip else d_params
  return d_params


def surrogate_terms(spec, g_params, d_params, real, z):
  """(real term, fake term) of f(theta_G, theta_D^K(theta_G, theta_D)) (Metz et al. 2016,
  eq. 10)."""
  fake = generator(g_params, z)
  d_k = look_ahead(spec, d_params, real, fake)
  return terms(spec.loss, discriminator(d_k, real), discriminator(d_k, fake))


def surrogate(spec, g_params, d_params, real, z):
  """What G descends: f_K for a zero-sum objective; for the non-saturating objective G's own loss
  -E log D(G(z)) at theta_D^K (Goodfellow et al. 2014, sec. 3; Foerster et al. 2018, sec. 3.2)."""
  if spec.loss == "non_saturating":
    fake = generator(g_params, z)
    d_k = look_ahead(spec, d_params, real, fake)
    return -jnp.mean(log_sigmoid(discriminator(d_k, fake)))
  return sum(surrogate_terms(spec, g_params, d_params, real, z))


# --- the cases -----------------------------------------------------------------------------------


def spec_of(loss, d_optimizer=MOMENTUM, weight_clip=0.0, steps=2):
  return Spec(
    "unrolled",
    loss=loss,
    weight_clip=weight_clip,
    options=(("unroll_steps", steps),),
    d_optimizer=d_optimizer,
  )


CASES = {
  "minimax-momentum": spec_of("minimax"),
  "minimax-adam-K3": spec_of("minimax", ADAM, steps=3),
  "wasserstein-clip": spec_of("wasserstein", weight_clip=WEIGHT_CLIP),
  "non_saturating": spec_of("non_saturating"),
  "minimax-K0": spec_of("minimax", steps=0),
}
ZERO_SUM_CASES = ["minimax-momentum", "minimax-adam-K3", "wasserstein-clip"]


def setup(spec):
  """(library G gradient, its loss metric, the reference's inputs) at the initial state."""
  algorithm, state, batch = build(make_config(spec))
  rng = jax.random.key(RNG_SEED)
  grads, _, metrics = algorithm.players["generator"].grad_fn(state, batch, rng)
  z = jax.random.normal(rng, (batch["x"].shape[0], LATENT))  # the latents G draws from its rng
  inputs = (state.players["generator"].params, state.players["discriminator"].params, batch["x"], z)
  return grads, metrics, inputs


def flat(tree):
  return np.concatenate([np.ravel(x) for x in jax.tree.leaves(tree)])


def directional_fd(fn, params, direction):
  shifted = lambda sign: jax.tree.map(lambda p, v: p + sign * FD_EPSILON * v, params, direction)
  return float((fn(shifted(1.0)) - fn(shifted(-1.0))) / (2 * FD_EPSILON))


@pytest.mark.parametrize("name", list(CASES))
def test_generator_gradient_is_the_total_derivative_of_the_surrogate(name, x64):
  spec = CASES[name]
  grads, metrics, (g_params, d_params, real, z) = setup(spec)
  loss = lambda g: surrogate(spec, g, d_params, real, z)
  np.testing.assert_allclose(float(metrics["loss"]), float(loss(g_params)), rtol=1e-12)
  np.testing.assert_allclose(flat(grads), flat(jax.grad(loss)(g_params)), rtol=1e-7, atol=1e-10)
  for index in range(FD_DIRECTIONS):
    direction = random_direction(g_params, RNG_SEED + 1 + index)
    got = float(np.dot(flat(grads), flat(direction)))
    np.testing.assert_allclose(got, directional_fd(loss, g_params, direction), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name", ZERO_SUM_CASES)
def test_the_real_term_moves_the_generator_gradient(name, x64):
  """E_x log D(x; theta_D^K) depends on theta_G through theta_D^K: its gradient is a clear share of
  G's, by autodiff and by finite differences of the real term alone; the library has it."""
  spec = CASES[name]
  grads, _, (g_params, d_params, real, z) = setup(spec)
  real_term = lambda g: surrogate_terms(spec, g, d_params, real, z)[0]
  fake_term = lambda g: surrogate_terms(spec, g, d_params, real, z)[1]
  full = flat(jax.grad(lambda g: real_term(g) + fake_term(g))(g_params))
  fake_only = flat(jax.grad(fake_term)(g_params))
  share = np.linalg.norm(full - fake_only) / np.linalg.norm(full)
  assert share > REAL_SHARE_FLOOR, f"{name}: the real term's share of G's gradient is {share:.3g}"
  library = flat(grads)
  assert np.linalg.norm(library - full) < 1e-6 * np.linalg.norm(library - fake_only)
  direction = random_direction(g_params, RNG_SEED + 1)
  along = directional_fd(real_term, g_params, direction)  # finite differences of the real term
  assert abs(along) > REAL_ALONG_FLOOR * np.linalg.norm(full - fake_only), along
  np.testing.assert_allclose(np.dot(full - fake_only, flat(direction)), along, rtol=1e-5)


def test_zero_sum_objectives_are_those_whose_losses_sum_to_a_real_term():
  """An objective is zero-sum when D's loss plus G's loss does not depend on D(G(z)) (the two
  players' losses are negatives up to D's real term); `ZERO_SUM_OBJECTIVES` must name exactly
  those of the registry."""
  rng = np.random.default_rng(0)
  real = jnp.asarray(rng.normal(size=16))
  fakes = [jnp.asarray(rng.normal(size=16)) for _ in range(3)]
  found = set()
  for name, objective in losses.GAN_OBJECTIVES.items():
    extra = (real,) if objective.generator_needs_real else ()
    sums = [
      float(objective.discriminator_loss(real, f) + objective.generator_loss(f, *extra))
      for f in fakes
    ]
    if np.allclose(sums, sums[0], rtol=1e-6, atol=1e-6):
      found.add(name)
  assert found == set(unrolled.ZERO_SUM_OBJECTIVES)


def test_discriminator_input_scale_multiplies_the_input_before_the_first_layer():
  """Metz et al. 2016, app. A: D "first scales its input down by a factor of 4"."""
  from jaxgen.nn.gan import MLPDiscriminator

  x = jax.random.normal(jax.random.PRNGKey(0), (5, 2)) * 2.0
  scaled = MLPDiscriminator(hidden=(16,), maxout_pieces=0, activation="relu", input_scale=0.25)
  plain = MLPDiscriminator(hidden=(16,), maxout_pieces=0, activation="relu")
  params = plain.init(jax.random.PRNGKey(1), x, train=False)
  np.testing.assert_allclose(
    scaled.apply(params, x, train=False), plain.apply(params, x / 4.0, train=False), rtol=1e-6
  )
  assert not np.allclose(scaled.apply(params, x, train=False), plain.apply(params, x, train=False))
  for bad in (0.0, -1.0, True, "0.25"):
    with pytest.raises(ValueError, match="input_scale must be a number > 0"):
      MLPDiscriminator(input_scale=bad).init(jax.random.PRNGKey(1), x, train=False)
