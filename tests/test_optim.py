"""Tests for jaxgen.optim.

Every rule is checked against something that does not share its code: `optax.sgd`, NumPy loops
written from the papers and from the `torch.optim.SGD` algorithm box, and closed forms.
"""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgen import optim

NAMES = ("sgd", "momentum", "nesterov")
MOMENTUM_NAMES = ("momentum", "nesterov")
BETA = 0.9


def _factory(name, learning_rate, beta=BETA, **kwargs):
  """Our transform `name`; `beta` is dropped for plain SGD."""
  if name == "sgd":
    return optim.sgd(learning_rate, **kwargs)
  return optim.get(name)(learning_rate, beta=beta, **kwargs)


# NumPy references, float64, written from the papers and the torch docs, not from jaxgen.


def torch_sgd_reference(
  grad_fn,
  theta0,
  learning_rate,
  steps,
  beta=0.0,
  dampening=0.0,
  weight_decay=0.0,
  nesterov=False,
  clip_norm=None,
):
  """The algorithm box of the torch.optim.SGD docs, line by line; returns theta_0 .. theta_steps.

  `learning_rate` is a function of the 0-based step index; `clip_norm` rescales the raw gradient
  to at most that norm first (optax.clip_by_global_norm).
  """
  theta = np.asarray(theta0, np.float64)
  buffer = None
  iterates = [theta]
  for t in range(steps):
    g = grad_fn(theta)
    if clip_norm is not None:
      g = g * min(1.0, clip_norm / np.linalg.norm(g))
    if weight_decay:
      g = g + weight_decay * theta
    if beta:
      buffer = g if buffer is None else beta * buffer + (1 - dampening) * g
      g = g + beta * buffer if nesterov else buffer
    theta = theta - learning_rate(t) * g
    iterates.append(theta)
  return np.stack(iterates)


def sutskever_reference(grad_fn, theta0, learning_rate, beta, steps, nesterov):
  """Sutskever et al. 2013, eq. 1-2 (classical) or 3-4 (Nesterov, gradient at theta + beta v).

  Returns the iterates theta_t and velocities v_t, t = 0 .. steps.
  """
  theta = np.asarray(theta0, np.float64)
  velocity = np.zeros_like(theta)
  thetas, velocities = [theta], [velocity]
  for _ in range(steps):
    probe = theta + beta * velocity if nesterov else theta
    velocity = beta * velocity - learning_rate * grad_fn(probe)
    theta = theta + velocity
    thetas.append(theta)
    velocities.append(velocity)
  return np.stack(thetas), np.stack(velocities)


# Test problems: a JAX loss for the optimizer, a closed-form NumPy gradient for the reference.

_QUADRATIC_A = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 0.5]])
_QUADRATIC_C = np.array([1.0, -2.0, 0.5])


def quadratic_loss(theta):
  a, c = jnp.asarray(_QUADRATIC_A, theta.dtype), jnp.asarray(_QUADRATIC_C, theta.dtype)
  return 0.5 * theta @ a @ theta - c @ theta


def quadratic_grad(theta):  # d/dx (x^T A x / 2 - c^T x) = A x - c for symmetric A.
  return _QUADRATIC_A @ theta - _QUADRATIC_C


def rosenbrock_loss(theta):  # Rosenbrock 1960, a = 1, b = 100; minimum at (1, 1).
  return (1 - theta[0]) ** 2 + 100 * (theta[1] - theta[0] ** 2) ** 2


def rosenbrock_grad(theta):
  x, y = theta
  return np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])


PROBLEMS = {
  "quadratic": (quadratic_loss, quadratic_grad, np.array([2.0, -1.0, 3.0]), 0.1),
  "rosenbrock": (rosenbrock_loss, rosenbrock_grad, np.array([-1.2, 1.0]), 1e-3),
}


def trajectory(opt, loss, theta0, steps):
  """theta_0 .. theta_steps of `opt` on `loss` (full-batch gradients), as a NumPy array."""

  @jax.jit
  def run(theta0):
    def step(carry, _):
      theta, state = carry
      updates, state = opt.update(jax.grad(loss)(theta), state, theta)
      theta = optax.apply_updates(theta, updates)
      return (theta, state), theta

    _, thetas = jax.lax.scan(step, (theta0, opt.init(theta0)), length=steps)
    return thetas

  theta0 = jnp.asarray(theta0, jnp.float32)
  return np.concatenate([np.asarray(theta0)[None], np.asarray(run(theta0))])


# 1. Against optax.sgd on a small MLP with random minibatches.


def mlp_loss(params, batch):
  inputs, targets = batch
  hidden = jnp.tanh(inputs @ params["hidden"]["w"] + params["hidden"]["b"])
  outputs = hidden @ params["out"]["w"] + params["out"]["b"]
  return jnp.mean((outputs - targets) ** 2)


def mlp_trajectory(opt, steps=100):
  """Params after every step of `opt` on `steps` random minibatches (stacked along axis 0)."""
  rng = np.random.default_rng(0)
  params = {
    "hidden": {"w": 0.5 * rng.normal(size=(5, 8)), "b": np.zeros(8)},
    "out": {"w": 0.5 * rng.normal(size=(8, 2)), "b": np.zeros(2)},
  }
  params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), params)
  batches = (
    jnp.asarray(rng.normal(size=(steps, 16, 5)), jnp.float32),
    jnp.asarray(rng.normal(size=(steps, 16, 2)), jnp.float32),
  )

  def step(carry, batch):
    params, state = carry
    updates, state = opt.update(jax.grad(mlp_loss)(params, batch), state, params)
    params = optax.apply_updates(params, updates)
    return (params, state), params

  _, params_per_step = jax.jit(lambda p: jax.lax.scan(step, (p, opt.init(p)), batches))(params)
  return params_per_step


OPTAX_EQUIVALENT = {
  "sgd": {},
  "momentum": {"momentum": BETA},
  "nesterov": {"momentum": BETA, "nesterov": True},
}


@pytest.mark.parametrize(("schedule", "weight_decay"), [(False, 0.0), (True, 1e-2)])
@pytest.mark.parametrize("name", NAMES)
def test_matches_optax_sgd_on_mlp(name, schedule, weight_decay):
  learning_rate = optax.cosine_decay_schedule(0.1, decay_steps=100) if schedule else 0.1
  ours = _factory(name, learning_rate, weight_decay=weight_decay)
  # optax.add_decayed_weights before optax.sgd is the coupled L2 of torch.optim.SGD.
  reference = optax.chain(
    optax.add_decayed_weights(weight_decay),
    optax.sgd(learning_rate, **OPTAX_EQUIVALENT[name]),
  )
  chex.assert_trees_all_close(mlp_trajectory(ours), mlp_trajectory(reference), rtol=1e-6, atol=1e-6)


# 2. Against NumPy loops of the textbook rules.

TORCH_CASES = {
  "sgd": ("sgd", {}),
  "sgd_weight_decay": ("sgd", {"weight_decay": 0.1}),
  "momentum": ("momentum", {"beta": 0.9}),
  "momentum_beta0": ("momentum", {"beta": 0.0}),
  "momentum_dampening": ("momentum", {"beta": 0.9, "dampening": 0.5}),
  "momentum_full_dampening": ("momentum", {"beta": 0.8, "dampening": 1.0}),
  "momentum_weight_decay": ("momentum", {"beta": 0.9, "weight_decay": 0.05}),
  "momentum_all": ("momentum", {"beta": 0.7, "dampening": 0.3, "weight_decay": 0.05}),
  "nesterov": ("nesterov", {"beta": 0.9}),
  "nesterov_weight_decay": ("nesterov", {"beta": 0.9, "weight_decay": 0.05}),
}


@pytest.mark.parametrize("schedule", [False, True])
@pytest.mark.parametrize("case", sorted(TORCH_CASES))
def test_matches_torch_algorithm_in_numpy(case, schedule):
  name, kwargs = TORCH_CASES[case]
  loss, grad_fn, theta0, _ = PROBLEMS["quadratic"]
  # lr_t = 0.1 * 0.97^t, t = 0, 1, ... (optax schedules see the 0-based update count).
  schedule_fn = optax.exponential_decay(0.1, transition_steps=1, decay_rate=0.97)
  learning_rate = schedule_fn if schedule else 0.1
  ours = trajectory(optim.get(name)(learning_rate, **kwargs), loss, theta0, steps=100)
  expected = torch_sgd_reference(
    grad_fn,
    theta0,
    (lambda t: 0.1 * 0.97**t) if schedule else (lambda t: 0.1),
    steps=100,
    nesterov=name == "nesterov",
    **kwargs,
  )
  np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("beta", [0.5, 0.9])
@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("name", MOMENTUM_NAMES)
def test_matches_sutskever_velocity_form(name, problem, beta):
  # Constant lr. Momentum: eq. 1-2 with v = -lr * b gives the same theta. Nesterov: the reference
  # evaluates grad f at theta + beta * v (eq. 3-4); our params are phi = theta + beta * v.
  loss, grad_fn, theta0, learning_rate = PROBLEMS[problem]
  ours = trajectory(optim.get(name)(learning_rate, beta=beta), loss, theta0, steps=200)
  nesterov = name == "nesterov"
  thetas, velocities = sutskever_reference(grad_fn, theta0, learning_rate, beta, 200, nesterov)
  expected = thetas + beta * velocities if nesterov else thetas
  np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


def test_momentum_differs_from_velocity_form_under_schedule():
  # The docstring's caveat: with lr_t varying, buffer and velocity forms part ways.
  loss, grad_fn, theta0, _ = PROBLEMS["quadratic"]
  schedule = optax.exponential_decay(0.1, transition_steps=1, decay_rate=0.9)
  ours = trajectory(optim.momentum(schedule, beta=BETA), loss, theta0, steps=20)
  theta, velocity = np.asarray(theta0, np.float64), 0.0
  for t in range(20):
    velocity = BETA * velocity - 0.1 * 0.9**t * grad_fn(theta)  # Sutskever eq. 1 with lr_t.
    theta = theta + velocity
  assert np.max(np.abs(ours[-1] - theta)) > 1e-2


def test_nesterov_recovers_textbook_iterate_from_buffer():
  # The docstring's inverse map: theta_t = phi_t + lr * beta * b (b = the buffer held with phi_t).
  loss, grad_fn, theta0, learning_rate = PROBLEMS["rosenbrock"]
  opt = optim.nesterov(learning_rate, beta=BETA)

  @jax.jit
  def run(phi):
    def step(carry, _):
      phi, state = carry
      updates, state = opt.update(jax.grad(loss)(phi), state, phi)
      return (optax.apply_updates(phi, updates), state), None

    return jax.lax.scan(step, (phi, opt.init(phi)), length=50)[0]

  phi, state = run(jnp.asarray(theta0, jnp.float32))
  thetas, _ = sutskever_reference(grad_fn, theta0, learning_rate, BETA, 50, nesterov=True)
  recovered = phi + learning_rate * BETA * state.momentum_buffer
  np.testing.assert_allclose(recovered, thetas[-1], rtol=1e-5, atol=1e-6)


# 3. The ravine: f(x, y) = (x^2 + 100 y^2) / 2, condition number 100 (the demo's first problem).

RAVINE_CURVATURES = np.array([1.0, 100.0])
RAVINE_START = np.array([-10.0, 1.0])
RAVINE_LR, RAVINE_TOL = 0.009, 1e-3
# Measured with this module's settings; identical to scripts/optimizers_demo.py's table.
RAVINE_STEPS = {"sgd": 1019, "momentum": 140, "nesterov": 66}


def ravine_loss(theta):
  return 0.5 * jnp.sum(jnp.asarray(RAVINE_CURVATURES, theta.dtype) * theta**2)


def first_within(thetas, tol):
  """The first t with ||theta_t|| < tol (the ravine's minimum is 0)."""
  close = np.linalg.norm(thetas, axis=1) < tol
  assert close.any(), f"no iterate within {tol} of the minimum"
  return int(np.argmax(close))


def test_ravine_sgd_count_matches_closed_form():
  # Gradient descent on a diagonal quadratic: theta_t = (1 - lr * lambda)^t * theta_0.
  t = np.arange(2000)[:, None]
  closed_form = first_within((1 - RAVINE_LR * RAVINE_CURVATURES) ** t * RAVINE_START, RAVINE_TOL)
  ours = first_within(
    trajectory(optim.sgd(RAVINE_LR), ravine_loss, RAVINE_START, steps=2000), RAVINE_TOL
  )
  assert ours == closed_form == RAVINE_STEPS["sgd"]


def test_momentum_and_nesterov_beat_sgd_on_ravine_at_same_lr():
  ours, reference = {}, {}
  for name in NAMES:
    thetas = trajectory(_factory(name, RAVINE_LR), ravine_loss, RAVINE_START, steps=2000)
    ours[name] = first_within(thetas, RAVINE_TOL)
    iterates = torch_sgd_reference(
      lambda theta: RAVINE_CURVATURES * theta,
      RAVINE_START,
      lambda t: RAVINE_LR,
      steps=2000,
      beta=0.0 if name == "sgd" else BETA,
      nesterov=name == "nesterov",
    )
    reference[name] = first_within(iterates, RAVINE_TOL)
  assert ours == reference == RAVINE_STEPS
  assert ours["momentum"] < ours["sgd"] and ours["nesterov"] < ours["sgd"]


# 4. Dampening and weight decay against closed forms.


@pytest.mark.parametrize("dampening", [0.0, 0.3, 1.0])
def test_dampening_closed_form_under_constant_gradient(dampening):
  # g constant: b_1 = g, b_t = beta b_{t-1} + (1 - d) g
  #   => b_t = g * (beta^(t-1) + (1 - d) (1 - beta^(t-1)) / (1 - beta)).
  gradient, lr, steps = jnp.array([1.0, -2.0]), 0.1, 30
  opt = optim.momentum(lr, beta=BETA, dampening=dampening)
  params = jnp.zeros(2)
  state = opt.init(params)
  for _ in range(steps):
    updates, state = opt.update(gradient, state, params)
    params = optax.apply_updates(params, updates)
  t = np.arange(1, steps + 1)
  scale = BETA ** (t - 1) + (1 - dampening) * (1 - BETA ** (t - 1)) / (1 - BETA)
  np.testing.assert_allclose(state.momentum_buffer, scale[-1] * gradient, rtol=1e-5)
  np.testing.assert_allclose(params, -lr * scale.sum() * gradient, rtol=1e-5)


# With a zero loss gradient, g = wd * theta and every rule is a linear recurrence in h = lr * wd:
# theta_{t+1} = a theta_t - c theta_{t-1}, with theta_1 from the first step (b_1 = g_0). Nesterov's
# comes from eliminating b between two consecutive steps.
WEIGHT_DECAY_RECURRENCES = {  # name: (a, c, theta_1 / theta_0) as functions of h.
  "sgd": lambda h: (1 - h, 0.0, 1 - h),
  "momentum": lambda h: (1 + BETA - h, BETA, 1 - h),
  "nesterov": lambda h: ((1 + BETA) * (1 - h), BETA * (1 - h), 1 - (1 + BETA) * h),
}


@pytest.mark.parametrize("name", NAMES)
def test_weight_decay_alone_follows_linear_recurrence(name):
  lr, wd, steps = 0.1, 0.5, 40
  theta0 = np.array([1.0, -3.0])
  ours = trajectory(_factory(name, lr, weight_decay=wd), lambda p: 0.0 * p.sum(), theta0, steps)
  a, c, first = WEIGHT_DECAY_RECURRENCES[name](lr * wd)
  expected = [theta0, first * theta0]
  for _ in range(steps - 1):
    expected.append(a * expected[-1] - c * expected[-2])
  np.testing.assert_allclose(ours, np.stack(expected), rtol=1e-5, atol=1e-7)


def test_weight_decay_needs_params():
  opt = optim.momentum(0.1, weight_decay=0.1)
  params = jnp.ones(3)
  with pytest.raises(ValueError, match="weight_decay=0.1 .*needs the params"):
    opt.update(params, opt.init(params))


# 5. bfloat16, chaining, pytrees, jit.


@pytest.mark.parametrize("name", NAMES)
def test_bfloat16_params_keep_their_dtype(name):
  params = {"w": jnp.ones((3, 2), jnp.bfloat16), "b": jnp.zeros(2, jnp.bfloat16)}
  opt = _factory(name, 0.1)
  state = opt.init(params)
  updates, state = opt.update(jax.tree.map(jnp.ones_like, params), state, params)
  new_params = optax.apply_updates(params, updates)
  chex.assert_trees_all_equal_dtypes(updates, params)
  chex.assert_trees_all_equal_dtypes(new_params, params)
  if name != "sgd":
    assert {b.dtype for b in jax.tree.leaves(state.momentum_buffer)} == {jnp.dtype("float32")}


@pytest.mark.parametrize(
  ("accumulator_dtype", "expected"),
  [("float32", "float32"), ("bfloat16", "bfloat16"), (jnp.float16, "float16"), (None, "bfloat16")],
)
@pytest.mark.parametrize("name", MOMENTUM_NAMES)
def test_accumulator_dtype_is_selectable(name, accumulator_dtype, expected):
  params = jnp.ones(4, jnp.bfloat16)
  opt = _factory(name, 0.1, accumulator_dtype=accumulator_dtype)
  state = opt.init(params)
  _, state = opt.update(params, state, params)
  assert state.momentum_buffer.dtype == jnp.dtype(expected)


@pytest.mark.parametrize(
  ("accumulator_dtype", "max_error"), [("float32", 1e-5), ("bfloat16", None)]
)
def test_float32_buffer_accumulates_bfloat16_gradients(accumulator_dtype, max_error):
  # The buffer must hold sum_s beta^(t-s) g_s of the bf16 gradients to float32 accuracy; a bf16
  # buffer (8-bit mantissa) cannot, which is why float32 is the default.
  grads = jax.random.normal(jax.random.key(1), (60, 32)).astype(jnp.bfloat16)
  opt = optim.momentum(0.1, beta=BETA, accumulator_dtype=accumulator_dtype)
  params = jnp.zeros(32, jnp.bfloat16)
  state = jax.lax.fori_loop(
    0, len(grads), lambda t, state: opt.update(grads[t], state, params)[1], opt.init(params)
  )
  powers = BETA ** np.arange(len(grads) - 1, -1, -1)
  expected = powers @ np.asarray(grads, np.float64)
  error = np.max(np.abs(np.asarray(state.momentum_buffer, np.float64) - expected))
  if max_error is None:
    assert error > 1e-3  # bf16 really does lose what the float32 buffer keeps.
  else:
    assert error < max_error


@pytest.mark.parametrize("via_config", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_chained_after_clip_by_global_norm(name, via_config):
  loss, grad_fn, theta0, _ = PROBLEMS["quadratic"]
  theta0 = 10 * theta0  # Large gradients, so the clipping is active for most steps.
  if via_config:
    config = {"name": name, "learning_rate": 0.1, "clip_grad_norm": 1.0}
    opt = optim.make_optimizer(config if name == "sgd" else {**config, "beta": BETA})
  else:
    opt = optax.chain(optax.clip_by_global_norm(1.0), _factory(name, 0.1))
  ours = trajectory(opt, loss, theta0, steps=100)
  expected = torch_sgd_reference(
    grad_fn,
    theta0,
    lambda t: 0.1,
    steps=100,
    beta=0.0 if name == "sgd" else BETA,
    nesterov=name == "nesterov",
    clip_norm=1.0,
  )
  np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


def _nested_params(dtype):
  """An arbitrary pytree: nested dict, list, tuple and a scalar leaf."""
  return {
    "dense": {"kernel": jnp.full((3, 2), 0.5, dtype), "bias": jnp.zeros(2, dtype)},
    "stack": [jnp.ones(4, dtype), (jnp.asarray(2.0, dtype),)],
  }


def _nested_loss(params):
  return sum(jnp.sum(jnp.sin(leaf.astype(jnp.float32)) ** 2) for leaf in jax.tree.leaves(params))


@pytest.mark.parametrize("name", NAMES)
def test_jit_matches_eager(name):
  opt = _factory(name, optax.linear_schedule(0.1, 0.01, 5), weight_decay=1e-3)

  def step(params, state):
    updates, state = opt.update(jax.grad(_nested_loss)(params), state, params)
    return optax.apply_updates(params, updates), state

  eager = jitted = _nested_params(jnp.float32)
  eager_state = jitted_state = opt.init(eager)
  jitted_step = jax.jit(step)
  for _ in range(5):
    eager, eager_state = step(eager, eager_state)
    jitted, jitted_state = jitted_step(jitted, jitted_state)
  chex.assert_trees_all_close(jitted, eager, rtol=1e-6, atol=1e-6)
  chex.assert_trees_all_close(jitted_state, eager_state, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("schedule", [False, True])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("name", NAMES)
def test_jitted_update_does_not_recompile(name, dtype, schedule):
  # As optax's alias tests: the state after one update must have the same types as opt.init's,
  # otherwise the second call retraces.
  learning_rate = optax.exponential_decay(0.1, 10, 0.5) if schedule else 0.1
  opt = _factory(name, learning_rate, weight_decay=1e-3)
  traces = []

  @jax.jit
  def step(params, state):
    traces.append(None)  # Runs once per trace, not per call.
    updates, state = opt.update(jax.grad(_nested_loss)(params), state, params)
    return optax.apply_updates(params, updates), state

  params = _nested_params(dtype)
  state = opt.init(params)
  for _ in range(3):
    params, state = step(params, state)
  assert len(traces) == 1
  chex.assert_trees_all_equal_dtypes(params, _nested_params(dtype))


@pytest.mark.parametrize("name", NAMES)
def test_works_under_inject_hyperparams(name):
  # The factories accept traced hyperparameters, so the lr can live in (and be logged from) state.
  kwargs = {"learning_rate": 0.05, "weight_decay": 1e-2}
  injected = optax.inject_hyperparams(optim.get(name))(**kwargs)
  loss, _, theta0, _ = PROBLEMS["quadratic"]
  np.testing.assert_allclose(
    trajectory(injected, loss, theta0, steps=30),
    trajectory(optim.get(name)(**kwargs), loss, theta0, steps=30),
    rtol=1e-6,
    atol=1e-6,
  )


# 6. make_optimizer and bad input.


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
def test_make_optimizer_builds_every_registered_name(name):
  opt = optim.make_optimizer({"name": name, "learning_rate": 0.01})
  params = {"w": jnp.ones(3)}
  updates, _ = opt.update({"w": jnp.ones(3)}, opt.init(params), params)
  assert np.all(np.asarray(updates["w"]) < 0)  # Every one of them descends.


def test_make_optimizer_passes_options_through():
  loss, grad_fn, theta0, _ = PROBLEMS["quadratic"]
  opt = optim.make_optimizer(
    {"name": "momentum", "learning_rate": 0.1, "beta": 0.7, "dampening": 0.2}
  )
  expected = torch_sgd_reference(grad_fn, theta0, lambda t: 0.1, 50, beta=0.7, dampening=0.2)
  np.testing.assert_allclose(trajectory(opt, loss, theta0, 50), expected, rtol=1e-5, atol=1e-5)


BAD_FACTORY_CALLS = {
  "nan_lr": (optim.sgd, {"learning_rate": math.nan}, r"learning_rate .*\[0, inf\).*nan"),
  "inf_lr": (optim.momentum, {"learning_rate": math.inf}, r"learning_rate .*\[0, inf\)"),
  "negative_lr": (optim.nesterov, {"learning_rate": -0.1}, r"learning_rate .*\[0, inf\).*-0.1"),
  "text_lr": (optim.sgd, {"learning_rate": "fast"}, r"learning_rate must be a real number"),
  "beta_one": (optim.momentum, {"learning_rate": 0.1, "beta": 1.0}, r"beta .*\[0, 1\).*1.0"),
  "beta_negative": (optim.nesterov, {"learning_rate": 0.1, "beta": -0.5}, r"beta .*\[0, 1\)"),
  "beta_nan": (optim.momentum, {"learning_rate": 0.1, "beta": math.nan}, r"beta .*\[0, 1\)"),
  "dampening_above_one": (
    optim.momentum,
    {"learning_rate": 0.1, "dampening": 1.5},
    r"dampening .*\[0, 1\].*1.5",
  ),
  "dampening_with_nesterov": (
    optim.nesterov,
    {"learning_rate": 0.1, "dampening": 0.1},
    r"dampening must be 0 with nesterov .*\[0, 0\].*0.1",
  ),
  "negative_weight_decay": (
    optim.sgd,
    {"learning_rate": 0.1, "weight_decay": -1e-4},
    r"weight_decay .*\[0, inf\)",
  ),
  "integer_buffer": (
    optim.momentum,
    {"learning_rate": 0.1, "accumulator_dtype": "int32"},
    r"accumulator_dtype must be a floating dtype",
  ),
}


@pytest.mark.parametrize("case", sorted(BAD_FACTORY_CALLS))
def test_bad_hyperparameters_raise(case):
  factory, kwargs, message = BAD_FACTORY_CALLS[case]
  with pytest.raises(ValueError, match=message):
    factory(**kwargs)


BAD_CONFIGS = {
  "no_name": ({"learning_rate": 0.1}, r"needs a 'name'"),
  "unknown_name": (
    {"name": "adagrad", "learning_rate": 0.1},
    r"Unknown optimizer 'adagrad'; choose one of \['adam', 'adamw', 'momentum', 'nesterov'",
  ),
  "unknown_option": (
    {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9},
    r"Unknown option\(s\) \['momentum'\] for optimizer 'sgd'; it accepts",
  ),
  "missing_lr": (
    {"name": "momentum", "beta": 0.9},
    r"'momentum' needs option\(s\) \['learning_rate'\]",
  ),
  "negative_clip": (
    {"name": "sgd", "learning_rate": 0.1, "clip_grad_norm": -1.0},
    r"clip_grad_norm .*\[0, inf\)",
  ),
  "nesterov_dampening": (
    {"name": "nesterov", "learning_rate": 0.1, "dampening": 0.5},
    r"dampening must be 0 with nesterov",
  ),
  "bad_beta": ({"name": "momentum", "learning_rate": 0.1, "beta": 1.2}, r"beta .*\[0, 1\)"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_make_optimizer_bad_config_raises(case):
  config, message = BAD_CONFIGS[case]
  with pytest.raises(ValueError, match=message):
    optim.make_optimizer(config)


# 7. Ranges of optax's adam, adamw and rmsprop through make_optimizer (optax itself accepts them).

BAD_OPTAX_CONFIGS = {
  "adam_b1_above_one": ({"name": "adam", "b1": 1.5}, r"b1 must lie in \[0, 1\); got 1.5"),
  "adam_b1_one": ({"name": "adam", "b1": 1.0}, r"b1 must lie in \[0, 1\); got 1.0"),
  "adam_b2_negative": ({"name": "adam", "b2": -0.1}, r"b2 must lie in \[0, 1\); got -0.1"),
  "adam_negative_lr": ({"name": "adam", "learning_rate": -1e-4}, r"\[0, inf\).*-0.0001"),
  "adam_nan_lr": ({"name": "adam", "learning_rate": math.nan}, r"\[0, inf\).*nan"),
  "adam_negative_eps": ({"name": "adam", "eps": -1e-8}, r"eps must be .*\[0, inf\); got -1e-08"),
  "adam_no_denominator_guard": (
    {"name": "adam", "eps": 0.0, "eps_root": 0.0},
    r"eps \+ eps_root must be > 0 .*'adam'.*0 / 0 = nan; got eps=0.0, eps_root=0.0",
  ),
  "adam_mu_dtype_int": ({"name": "adam", "mu_dtype": "int32"}, r"mu_dtype must be a floating"),
  "adam_nesterov_not_bool": ({"name": "adam", "nesterov": "yes"}, r"nesterov must be True or"),
  "adamw_b1": ({"name": "adamw", "b1": 1.5}, r"b1 must lie in \[0, 1\)"),
  "adamw_negative_weight_decay": (
    {"name": "adamw", "weight_decay": -0.01},
    r"weight_decay .*\[0, inf\); got -0.01",
  ),
  "adamw_negative_lr": ({"name": "adamw", "learning_rate": -1e-4}, r"learning_rate .*\[0, inf\)"),
  "rmsprop_decay_one": ({"name": "rmsprop", "decay": 1.0}, r"decay must lie in \[0, 1\); got 1.0"),
  "rmsprop_momentum": ({"name": "rmsprop", "momentum": 1.2}, r"momentum must lie in \[0, 1\)"),
  "rmsprop_eps_zero": ({"name": "rmsprop", "eps": 0.0}, r"eps must be > 0 for optimizer 'rmsprop'"),
  "rmsprop_initial_scale": (
    {"name": "rmsprop", "initial_scale": -1.0},
    r"initial_scale must be .*\[0, inf\)",
  ),
  "rmsprop_negative_lr": ({"name": "rmsprop", "learning_rate": -1e-4}, r"\[0, inf\)"),
}


@pytest.mark.parametrize("case", sorted(BAD_OPTAX_CONFIGS))
def test_make_optimizer_refuses_optax_options_out_of_range(case):
  config, message = BAD_OPTAX_CONFIGS[case]
  with pytest.raises(ValueError, match=message):
    optim.make_optimizer({"learning_rate": 1e-3, **config})


GOOD_EDGE_CONFIGS = {
  "adam_b1_zero": {"name": "adam", "b1": 0.0, "b2": 0.9},  # WGAN-GP's Adam
  "adam_eps_root_only": {"name": "adam", "eps": 0.0, "eps_root": 1e-8},
  "adam_lr_zero": {"name": "adam", "learning_rate": 0.0},
  "adamw_weight_decay_schedule": {"name": "adamw", "weight_decay": optax.constant_schedule(1e-4)},
  "adam_lr_schedule": {"name": "adam", "learning_rate": optax.linear_schedule(1e-3, 0.0, 100)},
  "rmsprop_momentum_none": {"name": "rmsprop", "momentum": None},
  "rmsprop_centered": {"name": "rmsprop", "centered": True, "momentum": 0.9},
}


@pytest.mark.parametrize("case", sorted(GOOD_EDGE_CONFIGS))
def test_make_optimizer_accepts_optax_edge_values(case):
  opt = optim.make_optimizer({"learning_rate": 1e-3, **GOOD_EDGE_CONFIGS[case]})
  params = {"w": jnp.ones(3)}
  updates, _ = opt.update({"w": jnp.ones(3)}, opt.init(params), params)
  assert np.all(np.isfinite(np.asarray(updates["w"])))


def test_optax_option_checks_change_no_update():
  # The checks only refuse; a valid config builds the very transform optax's factory builds.
  config = {"name": "adam", "learning_rate": 1e-3, "b1": 0.5, "b2": 0.99, "eps_root": 1e-8}
  ours = optim.make_optimizer(config)
  theirs = optax.adam(1e-3, b1=0.5, b2=0.99, eps_root=1e-8)
  params, grads = {"w": jnp.arange(3.0)}, {"w": jnp.array([0.5, -1.0, 0.0])}
  np.testing.assert_array_equal(
    ours.update(grads, ours.init(params), params)[0]["w"],
    theirs.update(grads, theirs.init(params), params)[0]["w"],
  )


def test_every_option_with_a_check_is_taken_by_some_optimizer():
  # A rule for a name no factory takes would never run (e.g. a typo in OPTION_CHECKS).
  taken = {option for name in optim.OPTIMIZERS for option in optim.option_names(name)}
  assert set(optim.OPTION_CHECKS) <= taken


# --- apply_if: the caller's flag decides whether the inner update happens. ---


def test_apply_if_false_moves_nothing_and_keeps_adams_state_and_count():
  optimizer = optim.apply_if(optax.adam(0.1))
  params = {"w": jnp.ones(3)}
  state = optimizer.init(params)
  grads = {"w": jnp.array([1.0, -2.0, 0.5])}
  updates, new_state = optimizer.update(grads, state, params, apply=jnp.bool_(False))
  np.testing.assert_array_equal(updates["w"], np.zeros(3))
  np.testing.assert_array_equal(optax.apply_updates(params, updates)["w"], params["w"])
  chex.assert_trees_all_equal(new_state, state)
  assert int(new_state.inner_state[0].count) == 0


def test_apply_if_true_is_adam_step_by_step():
  """Two applied Adam steps around a skipped one equal Adam's first two steps in closed form:
  u_t = -lr m^_t / (sqrt(v^_t) + eps), m^_t = m_t / (1 - b1^t), v^_t = v_t / (1 - b2^t)
  (Kingma & Ba 2015, Algorithm 1); the skip must not advance t."""
  lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
  optimizer = jax.jit(optim.apply_if(optax.adam(lr, b1, b2, eps)).update)
  params = {"w": jnp.zeros(2)}
  state = optim.apply_if(optax.adam(lr, b1, b2, eps)).init(params)
  g1, g2 = np.array([1.0, -2.0]), np.array([0.5, 3.0])
  u1, state = optimizer({"w": jnp.asarray(g1)}, state, params, apply=True)
  _, state = optimizer({"w": jnp.asarray([9.0, 9.0])}, state, params, apply=False)
  u2, state = optimizer({"w": jnp.asarray(g2)}, state, params, apply=True)
  m1, v1 = (1 - b1) * g1, (1 - b2) * g1**2
  m2, v2 = b1 * m1 + (1 - b1) * g2, b2 * v1 + (1 - b2) * g2**2
  for t, (m, v), u in ((1, (m1, v1), u1), (2, (m2, v2), u2)):
    expected = -lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    np.testing.assert_allclose(u["w"], expected, rtol=5e-5)  # float32 bias corrections
  assert int(state.inner_state[0].count) == 2


@pytest.mark.parametrize("apply", [True, False])
def test_apply_if_sgd_follows_the_flag_and_its_schedule_count(apply):
  """SGD with lr_t = 0.1 / (t + 1): a skipped step leaves t, so the next step uses lr_0."""
  optimizer = optim.apply_if(optim.sgd(lambda count: 0.1 / (count + 1)))
  params = {"w": jnp.ones(2)}
  state = optimizer.init(params)
  grads = {"w": jnp.array([2.0, -4.0])}
  updates, state = optimizer.update(grads, state, params, apply=jnp.asarray(apply))
  np.testing.assert_allclose(updates["w"], [-0.2, 0.4] if apply else [0.0, 0.0])
  updates, _ = optimizer.update(grads, state, params, apply=jnp.bool_(True))
  lr = 0.1 / 2 if apply else 0.1
  np.testing.assert_allclose(updates["w"], [-2.0 * lr, 4.0 * lr], rtol=1e-6)
