"""Tests of jaxgen.theory.games against closed forms derived here by hand (float64), scipy and
brute force."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgen.theory import games

LR = 0.1
X0, Y0 = 0.7, -0.3


def rotation_scaling(a, b):
  """[[a, b], [-b, a]] = sqrt(a^2 + b^2) times a rotation."""
  return np.array([[a, b], [-b, a]])


def iterate_matrix(matrix, steps):
  """Rows w_t = M^t w_0, t = 0..steps."""
  w, rows = np.array([X0, Y0]), []
  for _ in range(steps + 1):
    rows.append(w)
    w = matrix @ w
  return np.array(rows)


# ------------------------------------------------------------------------- item 1: the xy game


def test_simultaneous_matches_rotation_scaling_power(x64):
  # x ascends xy: x += lr y; y descends: y -= lr x. M = [[1, lr], [-lr, 1]] = r R(phi) with
  # r = sqrt(1 + lr^2), phi = atan(lr): M^t = r^t [[cos t phi, sin t phi], [-sin t phi, cos t phi]].
  steps = 60
  path = np.asarray(games.play(games.simultaneous_step, X0, Y0, LR, steps))
  t = np.arange(steps + 1)[:, None]
  r, phi = np.sqrt(1 + LR**2), np.arctan(LR)
  cos, sin = np.cos(t * phi), np.sin(t * phi)
  closed = r**t * np.concatenate([cos * X0 + sin * Y0, -sin * X0 + cos * Y0], axis=1)
  np.testing.assert_allclose(path, closed, rtol=1e-12)
  radii = np.hypot(path[:, 0], path[:, 1])
  np.testing.assert_allclose(radii[1:] / radii[:-1], np.sqrt(1 + LR**2), rtol=1e-13)


def test_alternating_conserves_quadratic_and_cycles(x64):
  # x' = x + lr y, y' = y - lr x'. Expanding x'^2 + y'^2 + c x'y' gives x^2 (1 + lr^2 - c lr),
  # y^2 (lr^2 + (1 - lr^2)^2 + c lr (1 - lr^2)), xy (2 lr - 2 lr (1 - lr^2) + c (1 - 2 lr^2)):
  # all unchanged iff c = lr. So Q = x^2 + y^2 + lr x y = w^T S w, S = [[1, lr/2], [lr/2, 1]],
  # eigenvalues 1 +- lr/2 > 0: |w|^2 stays in [Q / (1 + lr/2), Q / (1 - lr/2)], never 0.
  steps = 1000
  path = np.asarray(games.play(games.alternating_step, X0, Y0, LR, steps))
  np.testing.assert_allclose(
    path, iterate_matrix(np.array([[1, LR], [-LR, 1 - LR**2]]), steps), rtol=1e-10, atol=1e-13
  )
  x, y = path.T
  q = x**2 + y**2 + LR * x * y
  np.testing.assert_allclose(q, q[0], rtol=1e-13)
  radius2 = x**2 + y**2
  assert np.all(radius2 <= q[0] / (1 - LR / 2) * (1 + 1e-12))
  assert np.all(radius2 >= q[0] / (1 + LR / 2) * (1 - 1e-12))
  assert np.ptp(radius2[-200:]) > 0.05 * q[0]  # still going round an ellipse, not settling


def test_extragradient_matches_closed_form(x64):
  # Look-ahead (x + lr y, y - lr x); then x' = x + lr (y - lr x), y' = y - lr (x + lr y):
  # [[1 - lr^2, lr], [-lr, 1 - lr^2]], radius factor sqrt((1 - lr^2)^2 + lr^2).
  steps = 300
  path = np.asarray(games.play(games.extragradient_step, X0, Y0, LR, steps))
  np.testing.assert_allclose(
    path, iterate_matrix(rotation_scaling(1 - LR**2, LR), steps), rtol=1e-11, atol=1e-15
  )
  radii = np.hypot(path[:, 0], path[:, 1])
  np.testing.assert_allclose(radii[1:] / radii[:-1], np.sqrt(1 - LR**2 + LR**4), rtol=1e-13)


def test_optimistic_matches_two_step_recurrence(x64):
  # z = x + i y: z_{t+1} = z_t - i lr (2 z_t - z_{t-1}); z_1 = (1 - i lr) z_0 (first step plain).
  # Characteristic roots lambda = ((1 - 2 i lr) +- sqrt(1 - 4 lr^2)) / 2, z_t = A l+^t + B l-^t.
  steps = 400
  path = np.asarray(games.play(games.optimistic_step, X0, Y0, LR, steps))
  z0 = X0 + 1j * Y0
  z1 = (1 - 1j * LR) * z0
  s = np.sqrt(1 - 4 * LR**2)
  lp, lm = (1 - 2j * LR + s) / 2, (1 - 2j * LR - s) / 2
  a, b = np.linalg.solve(np.array([[1, 1], [lp, lm]]), np.array([z0, z1]))
  t = np.arange(steps + 1)
  z = a * lp**t + b * lm**t
  np.testing.assert_allclose(path[:, 0] + 1j * path[:, 1], z, rtol=1e-10, atol=1e-14)
  assert abs(lp) < 1 and abs(lm) < 1
  assert np.hypot(*path[-1]) < 0.15 * np.hypot(X0, Y0)  # |l+|^400 ~ 0.13


def test_consensus_matches_closed_form_and_extragradient(x64):
  # v = (-y, x), L = |v|^2 / 2 = (x^2 + y^2) / 2, grad L = (x, y):
  # w' = w - lr (v + gamma w) = [[1 - lr gamma, lr], [-lr, 1 - lr gamma]] w.
  gamma, steps = 0.5, 200
  path = np.asarray(games.play(games.consensus_step, X0, Y0, LR, steps, gamma=gamma))
  np.testing.assert_allclose(
    path, iterate_matrix(rotation_scaling(1 - LR * gamma, LR), steps), rtol=1e-11, atol=1e-15
  )
  same = games.play(games.consensus_step, X0, Y0, LR, steps, gamma=LR)
  extra = games.play(games.extragradient_step, X0, Y0, LR, steps)
  np.testing.assert_allclose(same, extra, rtol=1e-12, atol=1e-15)


def test_contraction_factors_are_spectral_radii(x64):
  gamma = 0.5
  matrices = {
    "simultaneous": rotation_scaling(1, LR),
    "alternating": np.array([[1, LR], [-LR, 1 - LR**2]]),
    "extragradient": rotation_scaling(1 - LR**2, LR),
    "consensus": rotation_scaling(1 - LR * gamma, LR),
    # optimistic on (w_t, w_{t-1}): w_{t+1} = (I - 2 lr J) w_t + lr J w_{t-1}, J w = (-y, x)
    "optimistic": np.block(
      [
        [np.eye(2) - 2 * LR * np.array([[0, -1], [1, 0]]), LR * np.array([[0, -1], [1, 0]])],
        [np.eye(2), np.zeros((2, 2))],
      ]
    ),
  }
  for name, matrix in matrices.items():
    radius = np.max(np.abs(np.linalg.eigvals(matrix)))
    np.testing.assert_allclose(games.contraction_factor(name, LR, gamma), radius, rtol=1e-12)


def test_optax_transforms_drive_the_same_steps(x64):
  steps = 100
  for optimizer, rule in [
    (optax.sgd(LR), games.simultaneous_step),
    (optax.optimistic_gradient_descent(LR), games.optimistic_step),
  ]:
    np.testing.assert_allclose(
      games.play_with_optimizer(optimizer, X0, Y0, steps),
      games.play(rule, X0, Y0, LR, steps),
      rtol=1e-13,
      atol=1e-15,
    )


def test_rules_on_a_general_value_function(x64):
  # V = x^3 y + sin y: v = (-3 x^2 y, x^3 + cos y), v's Jacobian
  # J = [[-6xy, -3x^2], [3x^2, -sin y]], grad |v|^2 / 2 = J^T v.
  def value(x, y):
    return x**3 * y + jnp.sin(y)

  x, y, lr, gamma = 0.8, 0.4, 0.05, 0.7
  v = lambda x, y: np.array([-3 * x**2 * y, x**3 + np.cos(y)])
  jac = np.array([[-6 * x * y, -3 * x**2], [3 * x**2, -np.sin(y)]])
  w = np.array([x, y])
  look_ahead = w - lr * v(x, y)
  x_new = x - lr * v(x, y)[0]
  expected = {
    games.simultaneous_step: w - lr * v(x, y),
    games.alternating_step: np.array([x_new, y - lr * v(x_new, y)[1]]),
    games.extragradient_step: w - lr * v(*look_ahead),
    games.consensus_step: w - lr * (v(x, y) + gamma * jac.T @ v(x, y)),
  }
  for rule, step in expected.items():
    kwargs = {"gamma": gamma} if rule is games.consensus_step else {}
    path = games.play(rule, x, y, lr, 1, value_fn=value, **kwargs)
    np.testing.assert_allclose(path[1], step, rtol=1e-13, err_msg=rule.__name__)


def test_play_rejects_bad_input():
  with pytest.raises(ValueError, match="steps"):
    games.play(games.simultaneous_step, 1.0, 1.0, 0.1, -1)
  with pytest.raises(ValueError, match="lr"):
    games.play(games.simultaneous_step, 1.0, 1.0, 0.0, 5)
  with pytest.raises(ValueError, match="finite"):
    games.play(games.simultaneous_step, np.nan, 1.0, 0.1, 5)
  with pytest.raises(ValueError, match="Unknown rule"):
    games.contraction_factor("adam", 0.1)
  with pytest.raises(ValueError, match="lr"):
    games.contraction_factor("optimistic", 0.5)


def test_bilinear_experiment_radii_follow_the_rates():
  result = games.bilinear_game_experiment(quick=True)
  for name in ("simultaneous", "extragradient", "consensus"):
    radii, steps = result.radii[name], len(result.radii[name]) - 1
    np.testing.assert_allclose(radii[-1] / radii[0], result.factors[name] ** steps, rtol=1e-4)
  assert result.radii["simultaneous"][-1] > 2.5 * result.radii["simultaneous"][0]
  for name in ("extragradient", "optimistic", "consensus"):
    assert result.radii[name][-1] < 0.6 * result.radii[name][0]
