"""Annealed importance sampling and BDMC (`jaxgen.metrics.ais`) and the "ais" evaluator.

AIS is checked against the closed-form marginal of a linear-Gaussian generator (scipy, float64),
BDMC's bracket against the same, and, on a small trained VAE, against the IWAE bound written by the
VAE itself (an importance sampler through the encoder, another code path); the evaluator runs from
the command line, and refuses the models it cannot score in one line.
"""

import json
import sys
from pathlib import Path

import hang_guard
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import tiny_ring8_config
from scipy import stats

from jaxgen import algorithms, data, evaluators
from jaxgen.configs import (
  cgan_digits,
  cvae_digits,
  cyclegan_digits,
  dcgan_digits,
  infogan_digits,
  sparse_vae_digits,
  vae_digits,
  vaegan_digits,
)
from jaxgen.errors import ConfigError
from jaxgen.evaluators.ais import Observation, decoder_kind, dequantized
from jaxgen.metrics import ais
from jaxgen.run import train
from jaxgen.run.overrides import apply_overrides

ROOT = Path(__file__).resolve().parents[1]

# --- A linear-Gaussian generator: x = W z + b + N(0, sigma^2 I), z ~ N(0, I) ---------------------
# Its marginal is p(x) = N(b, W W^T + sigma^2 I) (Bishop 2006, eq. 12.35: probabilistic PCA).
LATENT, DIM, NOISE, EXAMPLES, CHAINS = 4, 10, 0.3, 24, 16
STEPS = (10, 100, 500)


def linear_gaussian_log_likelihood(z, x, args):
  """log N(x; W z + b, NOISE^2 I) for chains z [K, B, d] and examples x [B, D]: [K, B]."""
  weights, bias = args
  squared = jnp.sum(jnp.square(x - z @ weights.T - bias), axis=-1)
  return -0.5 * squared / NOISE**2 - 0.5 * DIM * np.log(2 * np.pi * NOISE**2)


@pytest.fixture(scope="module")
def linear_gaussian():
  """Examples simulated from the model with their z, their exact log p(x) (float64), and BDMC
  (forward and reverse AIS) for each schedule length of STEPS."""
  rng = np.random.default_rng(0)
  weights, bias = rng.normal(size=(DIM, LATENT)), rng.normal(size=DIM)
  z = rng.normal(size=(EXAMPLES, LATENT))
  x = z @ weights.T + bias + NOISE * rng.normal(size=(EXAMPLES, DIM))
  marginal = stats.multivariate_normal(bias, weights @ weights.T + NOISE**2 * np.eye(DIM))
  args = (jnp.asarray(weights, jnp.float32), jnp.asarray(bias, jnp.float32))
  runs = {
    steps: ais.bdmc(
      linear_gaussian_log_likelihood,
      x.astype(np.float32),
      z.astype(np.float32),
      jax.random.key(steps),
      betas=ais.schedule("sigmoidal", steps),
      num_chains=CHAINS,
      reverse_chains=1,  # one chain from the exact z, as Wu et al.'s code
      args=args,
      loop="host",
    )
    for steps in STEPS
  }
  return dict(x=x, z=z, args=args, exact=marginal.logpdf(x), runs=runs)


def test_ais_lands_on_the_exact_marginal_and_its_error_shrinks_with_the_schedule(linear_gaussian):
  """Forward AIS (16 chains) against log N(x; b, W W^T + sigma^2 I): the mean absolute error falls
  from T = 10 to 100 to 500, and is within 1 nat at T = 500 (measured 0.5; 18 at T = 10)."""
  exact = linear_gaussian["exact"]
  errors = [
    np.mean(np.abs(np.asarray(linear_gaussian["runs"][steps].lower) - exact)) for steps in STEPS
  ]
  assert errors[0] > errors[1] > errors[2], errors
  assert errors[2] < 1.0, errors


def test_bdmc_brackets_the_exact_marginal_and_its_gap_shrinks(linear_gaussian):
  """On data simulated from the model, forward AIS lies below log p(x) and reverse AIS from the
  true z above, on average (Grosse et al. 2015, BDMC), up to 3 standard errors of the mean over
  the examples; the gap upper - lower shrinks as the schedule lengthens."""
  exact, gaps = linear_gaussian["exact"], []
  for steps in STEPS:
    run = linear_gaussian["runs"][steps]
    below, above = np.asarray(run.lower) - exact, np.asarray(run.upper) - exact
    standard_error = lambda d: np.std(d, ddof=1) / np.sqrt(len(d))
    assert np.mean(below) <= 3 * standard_error(below), (steps, below)
    assert np.mean(above) >= -3 * standard_error(above), (steps, above)
    gaps.append(float(np.mean(run.gap)))
  assert gaps[0] > gaps[1] > gaps[2] > 0, gaps


def test_the_chains_end_as_samples_of_the_exact_posterior(linear_gaussian):
  """At T = 500 the chains end as posterior samples: whitened by the exact posterior N(m, S),
  S = (I + W^T W / sigma^2)^-1, m = S W^T (x - b) / sigma^2 (Bishop 2006, eq. 12.42), their mean
  is within 0.2 of 0 and their covariance within 0.2 of I (16 x 24 draws)."""
  x, args = linear_gaussian["x"], linear_gaussian["args"]
  weights, bias = (np.asarray(a, np.float64) for a in args)
  run = ais.ais_log_likelihood(
    linear_gaussian_log_likelihood, x.astype(np.float32), jax.random.key(1),
    latent_dim=LATENT, betas=ais.schedule("sigmoidal", 500), num_chains=CHAINS, args=args,
    loop="host",
  )  # fmt: skip
  covariance = np.linalg.inv(np.eye(LATENT) + weights.T @ weights / NOISE**2)
  mean = (x - bias) @ weights @ covariance / NOISE**2
  whiten = np.linalg.cholesky(np.linalg.inv(covariance))  # L L^T = S^-1: L^T (z - m) ~ N(0, I)
  white = ((np.asarray(run.latents, np.float64) - mean) @ whiten).reshape(-1, LATENT)
  np.testing.assert_allclose(white.mean(0), 0.0, atol=0.2)
  np.testing.assert_allclose(np.cov(white.T), np.eye(LATENT), atol=0.2)


def test_with_a_flat_likelihood_the_weights_vanish_and_hmc_keeps_the_prior():
  """p(x|z) = 1: every f_t is N(0, I), so every log weight is exactly 0 (log p(x) = 0). HMC's
  leapfrog on N(0, I) is the map (z, p) -> M (z, p) per coordinate, M = [[1 - e^2/2, e],
  [-e (1 - e^2/4), 1 - e^2/2]], det M = 1 and trace 2 - e^2 in (-2, 2) for steps e < 2: a
  rotation, the energy bounded, so nearly every proposal is accepted; the step size climbs to its
  maximum, 0.5, and the states stay N(0, I) (mean within 0.2 of 0, variance within 0.2 of 1)."""
  flat = lambda z, x, args: jnp.zeros(z.shape[:2])
  run = ais.ais_log_likelihood(
    flat, np.zeros((8, 1), np.float32), jax.random.key(0), latent_dim=3,
    betas=ais.schedule("linear", 200), num_chains=16, loop="host",
  )  # fmt: skip
  assert np.all(np.asarray(run.log_weights) == 0) and np.all(np.asarray(run.log_marginal) == 0)
  assert np.mean(run.acceptance) > 0.95
  np.testing.assert_allclose(run.step_size, 0.5)
  states = np.asarray(run.latents).reshape(-1, 3)
  np.testing.assert_allclose(states.mean(0), 0.0, atol=0.2)
  np.testing.assert_allclose(states.var(0), 1.0, atol=0.2)


def test_the_scan_and_host_loops_draw_the_same_chains(linear_gaussian):
  """loop="scan" (one lax.scan) and loop="host" (a Python loop over one jitted transition) are
  the same computation: the same log weights and final states from the same key."""
  x, args = linear_gaussian["x"].astype(np.float32), linear_gaussian["args"]
  betas = ais.schedule("linear", 5)
  runs = [
    ais.ais_log_likelihood(
      linear_gaussian_log_likelihood,
      x,
      jax.random.key(3),
      latent_dim=LATENT,
      betas=betas,
      num_chains=2,
      hmc=ais.HMCSettings(leapfrog_steps=2),
      args=args,
      loop=loop,
    )
    for loop in ais.LOOPS
  ]
  np.testing.assert_allclose(runs[0].log_weights, runs[1].log_weights, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(runs[0].latents, runs[1].latents, rtol=1e-5, atol=1e-5)


def test_the_sigmoidal_schedule_is_grosse_et_al_s():
  """beta_t = (s_t - s_0) / (s_T - s_0), s_t = sigmoid(4 (2t/T - 1)) (Grosse et al. 2015, sec.
  6.2), by hand for T = 2 and 4: symmetric about 1/2, and densest at the two ends."""
  sigmoid = lambda a: 1 / (1 + np.exp(-a))
  s0, s4 = sigmoid(-4.0), sigmoid(4.0)
  by_hand = [(sigmoid(4.0 * (2 * t / 4 - 1)) - s0) / (s4 - s0) for t in range(5)]
  np.testing.assert_allclose(ais.sigmoidal_schedule(4), by_hand, rtol=1e-12)
  np.testing.assert_allclose(ais.sigmoidal_schedule(2), [0.0, 0.5, 1.0], atol=1e-12)
  steps = np.diff(ais.schedule("sigmoidal", 100))
  assert steps[0] < steps[50] and steps[-1] < steps[50]
  np.testing.assert_allclose(ais.schedule("linear", 4), [0, 0.25, 0.5, 0.75, 1.0])


@pytest.mark.parametrize(
  ("call", "message"),
  [
    (lambda: ais.schedule("cosine", 10), r"schedule 'cosine' is not one of \['linear', 'sig"),
    (lambda: ais.schedule("linear", 0), "num_steps must be an integer >= 1; got 0"),
    (lambda: ais.HMCSettings(leapfrog_steps=0), "leapfrog_steps must be an integer >= 1"),
    (lambda: ais.HMCSettings(target_acceptance=1.5), r"target_acceptance must be in \(0, 1\)"),
    (lambda: ais.HMCSettings(initial_step_size=1.0), "initial_step_size <= max_step_size"),
    (lambda: _forward(betas=[0.0, 0.7, 0.5, 1.0]), "betas must rise strictly from 0 to 1"),
    (lambda: _forward(betas=[0.1, 1.0]), "betas must rise strictly from 0 to 1"),
    (lambda: _forward(num_chains=0), "num_chains must be an integer >= 1; got 0"),
    (lambda: _forward(loop="python"), r"loop 'python' is not one of \('scan', 'host'\)"),
    (lambda: _forward(latent_dim=3), r"log_likelihood must return \[K, B\]"),
    (
      lambda: ais.reverse_ais_upper_bound(
        linear_gaussian_log_likelihood, np.zeros((4, DIM)), np.zeros((3, LATENT)),
        jax.random.key(0), betas=[0.0, 1.0],
      ),
      r"latents must be \[B, d\] with B = 4",
    ),
  ],
)  # fmt: skip
def test_bad_inputs_are_refused_in_one_line(call, message):
  """A bad schedule, HMC setting, shape or loop is one ValueError saying what to give."""
  with pytest.raises(ValueError, match=message) as error:
    call()
  assert "\n" not in str(error.value)


def _forward(**overrides):
  """Forward AIS on the linear-Gaussian model at tiny sizes, with `overrides`."""
  weights = jnp.ones((DIM, LATENT))
  kwargs = dict(latent_dim=LATENT, betas=[0.0, 1.0], num_chains=2, args=(weights, jnp.zeros(DIM)))
  log_likelihood = linear_gaussian_log_likelihood
  if overrides.get("latent_dim") == 3:  # a log-likelihood of the wrong shape: [K, B, D]
    log_likelihood = lambda z, x, args: jnp.zeros((*z.shape[:2], DIM))
  return ais.ais_log_likelihood(
    log_likelihood, np.zeros((4, DIM), np.float32), jax.random.key(0), **kwargs | overrides
  )


# --- A small trained VAE: AIS against its IWAE bound, BDMC on its own samples ---------------------


def tiny_vae_config():
  """vae_digits on 8x8 digits with MLPs and 4 latents, trained 300 steps; "elbo" evaluations."""
  config = vae_digits.get_config()
  config.data.options = {"size": 8}
  config.model.latent_dim = 4
  config.model.encoder = {"name": "mlp", "hidden": (32,)}
  config.model.decoder = {"name": "mlp", "hidden": (32,)}
  overrides = {"batch_size": 32, "num_steps": 300, "eval_every": 300, "checkpoint_every": 300}
  overrides |= {"log_every": 300, "progress_bar": False, "eval.num_samples": 100}
  apply_overrides(config, overrides | {"eval.evaluators": ("elbo",)})
  return config


@pytest.fixture(scope="module")
def trained_vae(tmp_path_factory):
  """(workdir, run, state) of the tiny VAE after 300 steps."""
  workdir = tmp_path_factory.mktemp("ais") / "vae"
  config = tiny_vae_config()
  state = train.train_and_evaluate(config, workdir)
  return workdir, train.Run(config), state


def test_ais_of_a_trained_vae_lies_above_its_iwae_bound_and_bdmc_closes(trained_vae):
  """On 50 held-out digits, AIS (T = 500, 16 chains) lies above the IWAE bound L_64 of the VAE
  itself (Burda et al. 2016, eq. 8; Wu et al. 2017 find AIS above IWAE), within Monte Carlo error
  of L_5000, which is all but log p(x) for 4 latents; on 10 digits drawn from the VAE, BDMC's gap
  shrinks from T = 30 to T = 500. The sizes are the evaluator's defaults, so the command-line
  test below reuses these compilations (JAX's persistent cache)."""
  _, run, state = trained_vae
  vae = run.algorithm
  x = jnp.asarray(run.dataset.eval_data(None)["x"][:50])
  weights = jax.jit(vae.log_importance_weights, static_argnums=3)
  iwae = lambda k, key: np.asarray(jax.nn.logsumexp(weights(state, x, key, k), 0) - np.log(k))
  many = jnp.concatenate([weights(state, x, jax.random.key(i), 1000) for i in range(5)])
  iwae_5000 = np.asarray(jax.nn.logsumexp(many, 0) - np.log(5000))
  observation = Observation(vae, "decoder", False, run.config)
  args = (state, None, jnp.float32(1.0))  # as the evaluator hands them
  common = dict(num_chains=16, args=args, loop="host")
  estimate = ais.ais_log_likelihood(
    observation.log_likelihood, x, jax.random.key(5), latent_dim=4,
    betas=ais.schedule("sigmoidal", 500), **common,
  ).log_marginal  # fmt: skip
  above = np.asarray(estimate) - iwae(64, jax.random.key(6))
  close = np.asarray(estimate) - iwae_5000
  standard_error = np.std(close, ddof=1) / np.sqrt(len(close))
  assert np.mean(above) > 0, above
  assert -3 * standard_error - 0.05 < np.mean(close) < 3 * standard_error + 0.05, close
  z = jax.random.normal(jax.random.key(7), (10, 4))
  simulated = observation.simulate(jax.random.key(8), z, args)
  assert set(np.unique(np.asarray(simulated))) <= {-1.0, 1.0}  # Bernoulli pixels, in [-1, 1]
  gaps = [
    float(np.mean(ais.bdmc(
      observation.log_likelihood, simulated, z, jax.random.key(9),
      betas=ais.schedule("sigmoidal", steps), **common,
    ).gap))
    for steps in (30, 500)
  ]  # fmt: skip
  assert gaps[0] > gaps[1] and gaps[0] > 0.2, gaps


def test_jaxgen_eval_scores_a_vae_with_ais_and_bdmc(trained_vae):
  """`jaxgen eval W --evaluators=ais` (the default options: 50 held-out digits, 16 chains, 500
  sigmoidal steps, 10 leapfrog steps, BDMC on 10 simulated digits) records the AIS estimate,
  which lies above the run's own ELBO, and BDMC's bracket."""
  workdir, _, _ = trained_vae
  result = hang_guard.run(
    [sys.executable, "-m", "jaxgen.cli", "eval", str(workdir), "--evaluators=ais"],
    capture_output=True,
    text=True,
    cwd=ROOT,
  )
  assert result.returncode == 0, result.stderr[-3000:]
  (record,) = json.loads((workdir / "evaluation.json").read_text())
  assert record["evaluators"] == "ais" and record["step"] == 300
  assert 0.3 < record["ais_acceptance"] < 1.0
  elbo = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  (elbo,) = [r["eval/elbo"] for r in elbo if "eval/elbo" in r]
  assert elbo < record["ais_log_likelihood"] < 0
  assert record["bdmc_lower"] <= record["bdmc_upper"] + 0.1
  assert record["bdmc_gap"] == pytest.approx(record["bdmc_upper"] - record["bdmc_lower"])
  assert "ais_sigma" not in record  # the VAE's own Bernoulli likelihood: no sigma


def test_the_gaussian_observation_of_a_gan_is_the_normal_density_of_its_samples():
  """A GAN's p(x|z) = N(x; G(z), sigma^2 I), written out here in float64 on G's own outputs (the
  ring's 2-D points), and the evaluator picks sigma from its grid on validation examples."""
  config = tiny_ring8_config.get_config()
  entry = {"name": "ais", "num_examples": 2, "chains": 2, "steps": 2, "leapfrog_steps": 1}
  entry |= {"sigma_grid": (0.3, 3.0), "validation_examples": 2, "bdmc_examples": 2}
  config.eval.evaluators = (entry,)
  run = train.Run(config)
  state, gan = run.init_state(), run.algorithm
  observation = Observation(gan, "generator", True, config)
  z = jax.random.normal(jax.random.key(0), (2, 3, gan.latent_dim))
  x = np.asarray(run.dataset.eval_data(3)["x"], np.float64)
  means = gan.generate(state, None, 6, None, train=False, z=z.reshape(6, -1))[0]
  means = np.asarray(means, np.float64).reshape(2, 3, 2)
  by_hand = stats.norm(means, 0.3).logpdf(x[None]).sum(-1)
  got = observation.log_likelihood(z, jnp.asarray(x, jnp.float32), (state, None, 0.3))
  np.testing.assert_allclose(got, by_hand, rtol=1e-5)
  scores = train.Evaluator(run)(state, 0, None)
  assert scores["eval/ais_sigma"] in (0.3, 3.0)
  assert set(scores) >= {"eval/ais_log_likelihood", "eval/bdmc_gap"}


def test_dequantization_spreads_each_value_over_its_bin():
  """U(0, w) noise on every value of each split (Theis et al. 2016): x <= x~ < x + w, each split
  its own draw, the labels untouched, the same draw for the same key."""
  held = {"x": np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 3, 4, 1), "y": np.arange(2)}
  noisy, other, none = dequantized(0.125, jax.random.key(0), held, held, None)
  noise = noisy["x"] - held["x"]
  assert noisy["x"].dtype == np.float32 and none is None and noisy["y"] is held["y"]
  assert np.all(noise >= 0) and np.all(noise < 0.125 + 1e-6) and np.std(noise) > 0.02
  assert not np.allclose(noisy["x"], other["x"])
  np.testing.assert_array_equal(noisy["x"], dequantized(0.125, jax.random.key(0), held)[0]["x"])


# --- Refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
  ("make", "entry", "message"),
  [
    (dcgan_digits.get_config, {"observation": "decoder"}, "a GAN's generator defines no p"),
    (sparse_vae_digits.get_config, {}, "spike-and-slab prior puts mass at z = 0"),
    (infogan_digits.get_config, {}, "'ais' needs one generator of z ~ N\\(0, I\\); InfoGAN"),
    (cyclegan_digits.get_config, {}, "'ais' needs a decoder-based model .*CycleGAN is not one"),
    (vae_digits.get_config, {"sigma": 0.1}, "sigma = 0.1 sets the gaussian observation"),
    (vae_digits.get_config, {"sigma_grid": (0.1,)}, "sigma_grid and validation_examples choose"),
    (dcgan_digits.get_config, {"sigma": "wide"}, "must be 'auto' or a number > 0; got 'wide'"),
    (dcgan_digits.get_config, {"sigma_grid": ()}, "must be a non-empty sequence of numbers > 0"),
    (dcgan_digits.get_config, {"schedule": "cosine"}, r"\['linear', 'sigmoidal'\]"),
    (vae_digits.get_config, {"dequantization": 0.125}, "dequantization = 0.125 spreads"),
    (dcgan_digits.get_config, {"dequantization": -0.1}, r"must be a finite number in \[0.0, inf\]"),
  ],
)
def test_models_and_options_it_cannot_score_are_refused_in_one_line(make, entry, message):
  """Each refusal is one ConfigError before any work, with the reason and what to do."""
  config = make()
  config.eval.evaluators = ({"name": "ais", **entry},)
  dataset = data.get(config.data.name, **dict(config.data.options))
  with pytest.raises(ConfigError, match=message) as error:
    evaluators.configured(config, algorithms.get(config.algorithm.name), dataset)
  assert "\n" not in str(error.value)


@pytest.mark.parametrize(
  ("make", "kind"),
  [
    (vae_digits.get_config, "decoder"),
    (cvae_digits.get_config, "decoder"),
    (vaegan_digits.get_config, "decoder"),
    (dcgan_digits.get_config, "generator"),
    (cgan_digits.get_config, "generator"),
  ],
)
def test_decoder_based_models_are_accepted(make, kind):
  """VAEs (conditional too) and VAE-GANs are scored with their decoder, GANs with one generator
  of z ~ N(0, I) with a Gaussian observation: the default entry passes the config check."""
  config = make()
  config.eval.evaluators = ("ais",)
  algorithm = algorithms.get(config.algorithm.name)
  dataset = data.get(config.data.name, **dict(config.data.options))
  (chosen,) = evaluators.configured(config, algorithm, dataset)
  assert chosen.name == "ais" and decoder_kind(algorithm) == kind


def test_more_examples_than_the_held_out_set_holds_are_refused(trained_vae):
  """num_examples beyond the held-out set (360 digits) is refused at the call, in one line."""
  _, run, state = trained_vae
  record = run.config.to_dict()
  record["eval"]["evaluators"] = ({"name": "ais", "num_examples": 400},)
  big = train.Run(ml_collections.ConfigDict(record))
  with pytest.raises(ValueError, match="num_examples = 400 held-out examples; the data hold 360"):
    train.Evaluator(big)(state, 0, None)
