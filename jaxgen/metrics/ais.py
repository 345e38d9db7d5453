"""Annealed importance sampling (AIS) of log p(x) for decoder-based models, and bidirectional Monte
Carlo (BDMC), which brackets its error on data simulated from the model.

A decoder-based model draws z ~ p(z) = N(0, I) and x ~ p(x|z). AIS (Neal 2001) anneals from the
prior to the posterior through f_t(z) = p(z) p(x|z)^beta_t, 0 = beta_0 < ... < beta_T = 1, moving
each chain with one HMC transition per temperature, and weights it by

  log w = sum_{t=1..T} log f_t(z_{t-1}) - log f_{t-1}(z_{t-1})                 (Neal 2001)
        = sum_{t=1..T} (beta_t - beta_{t-1}) log p(x | z_{t-1})     (Wu et al. 2017, AIS)

so that E[w] = p(x): logmeanexp over K chains is a stochastic lower bound on log p(x) (Jensen).
Run backwards from an exact posterior sample (available when x was simulated from the model with
its z), the same annealing estimates 1/p(x), and minus its logmeanexp is a stochastic upper bound
(Grosse, Ghahramani & Adams 2015, "bidirectional Monte Carlo"). The gap between the two bounds
the error of forward AIS on such data (Wu et al. 2017 validate AIS on decoders this way).

The functions here are pure: a log-likelihood function, arrays and a key in, arrays out. The
transitions follow Wu et al.'s code (github.com/tonywu95/eval_gen, `sampling/samplers.py`): HMC
with `leapfrog_steps` leapfrog steps and a unit mass; the step size starts at 0.01 and after each
transition is multiplied by 1.02 when an exponential moving average (decay 0.9) of the acceptance
rate is above the target 0.65, else by 0.98, kept within [1e-4, 0.5]. Their code adapts one step
size for the whole batch; here each example x has its own, driven by the mean acceptance over its
K chains, so an easy example does not set the step of a hard one. The step size of transition t
depends only on the chains' past, so each transition still leaves f_t invariant given it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import losses

__all__ = [
  "SCHEDULES",
  "AISResult",
  "BDMCResult",
  "HMCSettings",
  "ais_log_likelihood",
  "bdmc",
  "linear_schedule",
  "reverse_ais_upper_bound",
  "schedule",
  "sigmoidal_schedule",
]

# log_likelihood(z [K, B, d], x [B, ...], args) -> log p(x_b | z_kb) [K, B]. Each value must depend
# on its own z_kb alone (a decoder in inference mode), since one gradient serves every chain.
LogLikelihood = Callable[[jax.Array, jax.Array, Any], jax.Array]


def sigmoidal_schedule(num_steps: int, radius: float = 4.0) -> np.ndarray:
  """beta_t = (s_t - s_0) / (s_T - s_0), s_t = sigmoid(radius (2t/T - 1)), t = 0..T: [T + 1].

  Float64. Grosse, Ghahramani & Adams 2015, sec. 6.2 (radius 4, as Wu et al.'s code): denser
  near 0 and 1, where the intermediate distributions change fastest."""
  _check_num_steps(num_steps)
  s = 1.0 / (1.0 + np.exp(-np.linspace(-radius, radius, num_steps + 1)))
  return (s - s[0]) / (s[-1] - s[0])


def linear_schedule(num_steps: int) -> np.ndarray:
  """beta_t = t / T, t = 0..T: float64 [T + 1] (evenly spaced inverse temperatures, Neal 2001)."""
  _check_num_steps(num_steps)
  return np.linspace(0.0, 1.0, num_steps + 1)


SCHEDULES: dict[str, Callable[[int], np.ndarray]] = {
  "sigmoidal": sigmoidal_schedule,
  "linear": linear_schedule,
}


def schedule(kind: str, num_steps: int) -> np.ndarray:
  """The inverse temperatures beta_0 = 0 < ... < beta_T = 1 of `kind` (a key of SCHEDULES)."""
  if kind not in SCHEDULES:
    raise ValueError(f"schedule {kind!r} is not one of {sorted(SCHEDULES)}; choose one of them.")
  return SCHEDULES[kind](num_steps)


def _check_num_steps(num_steps: Any) -> None:
  if not (isinstance(num_steps, int | np.integer) and not isinstance(num_steps, bool)):
    raise ValueError(f"num_steps must be an integer >= 1; got {num_steps!r}.")
  if num_steps < 1:
    raise ValueError(f"num_steps must be an integer >= 1; got {num_steps}.")


@dataclasses.dataclass(frozen=True)
class HMCSettings:
  """The HMC transitions and their step-size adaptation (the values of Wu et al.'s code).

  Attributes:
    leapfrog_steps: L, leapfrog steps per transition.
    initial_step_size: the step size of the first transition.
    target_acceptance: the acceptance rate the step size is steered to.
    step_increase, step_decrease: the factors applied after each transition when the averaged
      acceptance is above / not above the target.
    min_step_size, max_step_size: the range the step size is kept in.
    acceptance_decay: the weight of the past in the moving average of the acceptance rate.
  """

  leapfrog_steps: int = 10
  initial_step_size: float = 0.01
  target_acceptance: float = 0.65
  step_increase: float = 1.02
  step_decrease: float = 0.98
  min_step_size: float = 1e-4
  max_step_size: float = 0.5
  acceptance_decay: float = 0.9

  def __post_init__(self):
    """Refuses settings that make no sampler, with one line naming the setting."""
    if not (isinstance(self.leapfrog_steps, int) and self.leapfrog_steps >= 1):
      raise ValueError(f"leapfrog_steps must be an integer >= 1; got {self.leapfrog_steps!r}.")
    if not 0.0 < self.target_acceptance < 1.0:
      raise ValueError(f"target_acceptance must be in (0, 1); got {self.target_acceptance}.")
    if not 0.0 < self.min_step_size <= self.initial_step_size <= self.max_step_size:
      raise ValueError(
        "the step sizes must satisfy 0 < min_step_size <= initial_step_size <= max_step_size; "
        f"got {self.min_step_size}, {self.initial_step_size}, {self.max_step_size}."
      )
    if not (self.step_decrease <= 1.0 <= self.step_increase and self.step_decrease > 0.0):
      raise ValueError(
        f"need 0 < step_decrease <= 1 <= step_increase; got {self.step_decrease}, "
        f"{self.step_increase}."
      )
    if not 0.0 <= self.acceptance_decay < 1.0:
      raise ValueError(f"acceptance_decay must be in [0, 1); got {self.acceptance_decay}.")


class AISResult(NamedTuple):
  """One annealing run over a batch of B examples with K chains each.

  Attributes:
    log_marginal: [B] the estimate of log p(x): forward, logmeanexp of the log weights (a
      stochastic lower bound); reverse, minus the logmeanexp (a stochastic upper bound).
    log_weights: [K, B] the chains' log weights (reverse: log of their estimates of 1/p(x)).
    latents: [K, B, d] the chains' last states (forward: approximate posterior samples).
    acceptance: [B] the mean acceptance rate of the transitions.
    step_size: [B] the last step size.
  """

  log_marginal: jax.Array
  log_weights: jax.Array
  latents: jax.Array
  acceptance: jax.Array
  step_size: jax.Array


class BDMCResult(NamedTuple):
  """BDMC's bracket of log p(x) per example, [B] each: `lower` by forward AIS from the prior,
  `upper` by reverse AIS from the exact posterior sample; `gap` = upper - lower."""

  lower: jax.Array
  upper: jax.Array

  @property
  def gap(self) -> jax.Array:
    """upper - lower, [B]: on average it bounds forward AIS's error (Grosse et al. 2015, BDMC)."""
    return self.upper - self.lower


def ais_log_likelihood(
  log_likelihood: LogLikelihood,
  x,
  key: jax.Array,
  *,
  latent_dim: int,
  betas,
  num_chains: int = 16,
  hmc: HMCSettings = HMCSettings(),
  args: Any = (),
  loop: str = "scan",
) -> AISResult:
  """Forward AIS from the prior N(0, I): `log_marginal` [B] estimates log p(x) from below.

  Args:
    log_likelihood: (z [K, B, d], x [B, ...], args) -> log p(x|z) [K, B] (see `LogLikelihood`).
    x: [B, ...] the examples.
    key: the one random key of the run (initial states, momenta, accept tests).
    latent_dim: d, the dimension of z.
    betas: [T + 1] inverse temperatures from 0 to 1, increasing (`schedule`).
    num_chains: K, independent chains per example.
    hmc: the transitions (`HMCSettings`).
    args: a pytree handed to `log_likelihood` (e.g. a model's parameters, labels); traced, so one
      compilation serves new values.
    loop: "scan", the schedule as one jitted `lax.scan`; or "host", a Python loop over the
      schedule calling one jitted transition, its leapfrog steps unrolled. Both draw the same
      numbers and agree to float rounding; "host" is the fast one on CPU, where XLA runs
      convolutions and their gradients several times slower inside a loop body (jax#12868).
  """
  betas = _checked_betas(betas)
  _check_count("num_chains", num_chains)
  _check_count("latent_dim", latent_dim)
  return _anneal(
    log_likelihood, hmc, jnp.asarray(x), args, None, betas, key, loop, num_chains, latent_dim
  )


def reverse_ais_upper_bound(
  log_likelihood: LogLikelihood,
  x,
  latents,
  key: jax.Array,
  *,
  betas,
  num_chains: int = 1,
  hmc: HMCSettings = HMCSettings(),
  args: Any = (),
  loop: str = "scan",
) -> AISResult:
  """Reverse AIS from exact posterior samples `latents` [B, d] (the z each x was drawn from):
  annealing from beta = 1 to 0 estimates 1/p(x) without bias, so `log_marginal` [B], minus the
  logmeanexp of the K chains' log weights, is a stochastic upper bound on log p(x) (Grosse et al.
  2015, BDMC). `betas` is the forward schedule (0 to 1); the other arguments as
  `ais_log_likelihood`'s."""
  betas = _checked_betas(betas)
  x, latents = jnp.asarray(x), jnp.asarray(latents)
  _check_count("num_chains", num_chains)
  if latents.ndim != 2 or latents.shape[0] != x.shape[0]:
    raise ValueError(
      f"latents must be [B, d] with B = {x.shape[0]} (one exact sample per example); "
      f"got shape {latents.shape}."
    )
  latent_dim = latents.shape[1]
  return _anneal(
    log_likelihood, hmc, x, args, latents, betas[::-1], key, loop, num_chains, latent_dim
  )


def bdmc(
  log_likelihood: LogLikelihood,
  x,
  latents,
  key: jax.Array,
  *,
  betas,
  num_chains: int = 16,
  reverse_chains: int = 1,
  hmc: HMCSettings = HMCSettings(),
  args: Any = (),
  loop: str = "scan",
) -> BDMCResult:
  """Bidirectional Monte Carlo (Grosse et al. 2015) on examples x [B, ...] simulated from the
  model with their latents [B, d]: forward AIS (`num_chains` chains) from below, reverse AIS
  (`reverse_chains` chains from the exact sample) from above, with the same schedule."""
  forward_key, reverse_key = jax.random.split(key)
  latent_dim = int(np.shape(latents)[-1])
  common = dict(betas=betas, hmc=hmc, args=args, loop=loop)
  lower = ais_log_likelihood(
    log_likelihood, x, forward_key, latent_dim=latent_dim, num_chains=num_chains, **common
  )
  upper = reverse_ais_upper_bound(
    log_likelihood, x, latents, reverse_key, num_chains=reverse_chains, **common
  )
  return BDMCResult(lower.log_marginal, upper.log_marginal)


LOOPS = ("scan", "host")


def _checked_betas(betas) -> np.ndarray:
  """`betas` as float64 [T + 1], refused unless it rises strictly from 0 to 1."""
  betas = np.asarray(betas, np.float64)
  if betas.ndim != 1 or betas.size < 2:
    raise ValueError(f"betas must be a 1-D schedule of >= 2 values; got shape {betas.shape}.")
  if betas[0] != 0.0 or betas[-1] != 1.0 or not np.all(np.diff(betas) > 0):
    raise ValueError(
      "betas must rise strictly from 0 to 1 (beta_0 = 0 < ... < beta_T = 1); use "
      "jaxgen.metrics.ais.schedule(kind, num_steps)."
    )
  return betas


def _check_count(name: str, value: Any) -> None:
  if not (isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= 1):
    raise ValueError(f"{name} must be an integer >= 1; got {value!r}.")


def _log_mean_exp(log_weights: jax.Array) -> jax.Array:
  """log (1/K) sum_k exp(log w_k) over the chains (axis 0), stably."""
  return jax.nn.logsumexp(log_weights, axis=0) - math.log(log_weights.shape[0])


def _log_prior(z: jax.Array) -> jax.Array:
  """log N(z; 0, I) per chain, [K, B] (the decoders' prior p(z))."""
  return losses.gaussian_log_density(z, batch_ndims=2)


def _likelihood_and_gradient(log_likelihood, z, x, args):
  """log p(x|z) [K, B] and its gradient w.r.t. z [K, B, d]: one backward pass for all chains, as
  each value depends on its own z only."""
  values, pullback = jax.vjp(lambda z: log_likelihood(z, x, args), z)
  if values.shape != z.shape[:2]:
    raise ValueError(
      f"log_likelihood must return [K, B] = {z.shape[:2]} for z of shape {z.shape}; "
      f"got {values.shape}."
    )
  return values, pullback(jnp.ones_like(values))[0]


class _Carry(NamedTuple):
  """The annealing's state between transitions: the chains (z [K, B, d], log p(x|z) [K, B], its
  gradient), each example's step size and averaged acceptance [B], the log weights [K, B] and the
  sum of the acceptance rates [B]."""

  chains: tuple[jax.Array, jax.Array, jax.Array]
  step_size: jax.Array
  average_acceptance: jax.Array
  log_weights: jax.Array
  accepted_sum: jax.Array


def _anneal(
  log_likelihood, hmc: HMCSettings, x, args, latents, betas, key, loop, num_chains, latent_dim
) -> AISResult:
  """Anneals K chains per example through f_beta for `betas` (float64 [T + 1]), one HMC
  transition per temperature, looped as `loop` says. Forward (`latents` None): from z_0 ~ p(z),
  `betas` increasing, log_marginal = logmeanexp(log w). Reverse: from `latents` [B, d], `betas`
  decreasing, log_marginal = -logmeanexp(log w)."""
  if loop not in LOOPS:
    raise ValueError(f"loop {loop!r} is not one of {LOOPS}; choose one of them.")
  betas = np.asarray(betas, np.float32)
  sizes = (num_chains, latent_dim)
  start_key, run_key = jax.random.split(key)
  if loop == "scan":
    return _anneal_scan(log_likelihood, hmc, sizes, x, args, latents, betas, start_key, run_key)
  carry = _begin(log_likelihood, hmc, sizes, x, args, latents, start_key)
  for t in range(1, betas.shape[0]):
    carry = _unrolled_transition(
      log_likelihood, hmc, x, args, carry, betas[t - 1], betas[t], run_key, np.int32(t)
    )
  return _end(carry, latents is not None, np.float32(betas.shape[0] - 1))


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _anneal_scan(log_likelihood, hmc, sizes, x, args, latents, betas, start_key, run_key):
  """`_anneal` in one jit: every transition of the schedule in one `lax.scan`."""
  carry = _begin(log_likelihood, hmc, sizes, x, args, latents, start_key)
  step = lambda carry, inputs: (
    _transition(log_likelihood, hmc, x, args, carry, *inputs[:2], run_key, inputs[2]),
    None,
  )
  num_steps = betas.shape[0] - 1
  steps = jnp.arange(1, num_steps + 1, dtype=jnp.int32)
  carry, _ = jax.lax.scan(step, carry, (betas[:-1], betas[1:], steps))
  return _end(carry, latents is not None, num_steps)


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _begin(log_likelihood, hmc: HMCSettings, sizes, x, args, latents, key):
  """The carry before the first transition: the chains start at z_0 ~ f_0 = p(z) = N(0, I) drawn
  from `key` (forward), or all K at the exact sample `latents` (reverse)."""
  num_chains, latent_dim = sizes
  batch = x.shape[0]
  if latents is None:
    z0 = jax.random.normal(key, (num_chains, batch, latent_dim))
  else:
    z0 = jnp.broadcast_to(latents, (num_chains, *latents.shape))
  chains = (z0, *_likelihood_and_gradient(log_likelihood, z0, x, args))
  step_size = jnp.full((batch,), hmc.initial_step_size, z0.dtype)
  average_acceptance = jnp.full((batch,), hmc.target_acceptance, z0.dtype)
  return _Carry(chains, step_size, average_acceptance, jnp.zeros(z0.shape[:2]), jnp.zeros(batch))


@functools.partial(jax.jit, static_argnums=1)
def _end(carry: _Carry, reverse: bool, num_steps) -> AISResult:
  """The run's result from the last carry: the forward estimate logmeanexp(log w) of log p(x), or
  the reverse one's -logmeanexp(log w) (the log weights then estimate log 1/p(x))."""
  log_marginal = _log_mean_exp(carry.log_weights)
  return AISResult(
    -log_marginal if reverse else log_marginal,
    carry.log_weights,
    carry.chains[0],
    carry.accepted_sum / num_steps,
    carry.step_size,
  )


def _transition(
  log_likelihood, hmc: HMCSettings, x, args, carry: _Carry, beta_before, beta, key, t, unroll=False
) -> _Carry:
  """Transition t: the weight's increment at z_{t-1}, one HMC transition leaving f_t invariant
  with the noise of fold_in(key, t), and the step size's adaptation."""
  # log f_t(z_{t-1}) - log f_{t-1}(z_{t-1}) = (beta_t - beta_{t-1}) log p(x|z_{t-1}) (AIS weight).
  log_weights = carry.log_weights + (beta - beta_before) * carry.chains[1]
  value_and_grad = lambda z: _likelihood_and_gradient(log_likelihood, z, x, args)
  chains, accepted = _hmc_transition(
    value_and_grad, hmc, carry.chains, beta, carry.step_size, jax.random.fold_in(key, t), unroll
  )
  rate = jnp.mean(accepted, axis=0)  # [B]: the acceptance of each example's K chains
  decay = hmc.acceptance_decay
  average_acceptance = decay * carry.average_acceptance + (1.0 - decay) * rate
  above = average_acceptance > hmc.target_acceptance
  factor = jnp.where(above, hmc.step_increase, hmc.step_decrease)
  step_size = jnp.clip(carry.step_size * factor, hmc.min_step_size, hmc.max_step_size)
  return _Carry(chains, step_size, average_acceptance, log_weights, carry.accepted_sum + rate)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _unrolled_transition(log_likelihood, hmc, x, args, carry, beta_before, beta, key, t):
  """One jitted transition with its leapfrog steps unrolled (no XLA loop): the "host" loop's."""
  return _transition(log_likelihood, hmc, x, args, carry, beta_before, beta, key, t, unroll=True)


def _hmc_transition(value_and_grad, hmc: HMCSettings, chains, beta, step_size, key, unroll=False):
  """One HMC transition leaving f_beta(z) = p(z) p(x|z)^beta invariant: a fresh momentum
  p ~ N(0, I), L leapfrog steps (Neal 2011, eq. 5.18-5.20) and a Metropolis test of the change
  in H = -log f_beta(z) + |p|^2 / 2 (Neal 2011, sec. 5.3.2: HMC's two steps). `chains` = (z,
  log p(x|z), its gradient); returns the new chains and whether each chain accepted, [K, B]."""
  z, log_lik, grad_lik = chains
  # One draw of d + 1 normals per chain: the momentum, and the accept test's log u = log Phi(n),
  # u uniform on (0, 1) by the probability integral transform (one random call to compile).
  noise = jax.random.normal(key, (*z.shape[:-1], z.shape[-1] + 1), z.dtype)
  momentum, log_uniform = noise[..., :-1], jax.scipy.special.log_ndtr(noise[..., -1])
  eps = step_size[None, :, None]
  grad_log_f = lambda z, grad_lik: -z + beta * grad_lik  # d/dz [log N(z; 0, I) + beta log p(x|z)]
  half_kicked = momentum + 0.5 * eps * grad_log_f(z, grad_lik)

  def leapfrog(state, kick):
    position, moment, _, _ = state
    position = position + eps * moment
    new_lik, new_grad = value_and_grad(position)
    moment = moment + kick * eps * grad_log_f(position, new_grad)
    return (position, moment, new_lik, new_grad), None

  # Full momentum kicks between the position drifts, a half kick after the last one.
  kicks = jnp.concatenate([jnp.ones(hmc.leapfrog_steps - 1), jnp.array([0.5])])
  (proposal, end_momentum, new_lik, new_grad), _ = jax.lax.scan(
    leapfrog, (z, half_kicked, log_lik, grad_lik), kicks, unroll=unroll
  )
  energy = lambda z, lik, p: -(_log_prior(z) + beta * lik) + 0.5 * jnp.sum(p * p, axis=-1)
  log_ratio = energy(z, log_lik, momentum) - energy(proposal, new_lik, end_momentum)
  log_ratio = jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)  # a diverged proposal fails
  accepted = log_uniform < log_ratio
  mask = lambda new: accepted.reshape(accepted.shape + (1,) * (new.ndim - 2))
  keep = lambda new, old: jnp.where(mask(new), new, old)
  chains = (keep(proposal, z), keep(new_lik, log_lik), keep(new_grad, grad_lik))
  return chains, accepted.astype(z.dtype)
