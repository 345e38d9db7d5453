"""The "ais" evaluator: the log-likelihood of held-out examples under a decoder-based model of the
run, estimated by annealed importance sampling (Wu, Burda, Salakhutdinov & Grosse 2017;
`jaxgen.metrics.ais`), and the error bracket of bidirectional Monte Carlo on data simulated from
the model (Grosse, Ghahramani & Adams 2015).

The model is z ~ N(0, I), x ~ p(x|z), with p(x|z) (option `observation`):
- "decoder": the decoder's own likelihood, `algorithm.reconstruction` (a VAE's, a CVAE's, or a
  VAE-GAN's: Bernoulli on the pixel intensities (x + 1) / 2, or Gaussian), in the nats of the
  ELBO of the "elbo" evaluator, so AIS and the ELBO / IWAE bound of a VAE compare directly;
- "gaussian": N(x; mean(z), sigma^2 I) in the data's units ([-1, 1] for images), mean(z) a GAN's
  generator output G(z) or a VAE's decoded image: the observation model Wu et al. put on a GAN,
  which defines no p(x|z) of its own. With `sigma = "auto"`, sigma is the value of `sigma_grid`
  that maximises the mean AIS log-likelihood of `validation_examples` held-out examples, taken
  from the end of the held-out set and never scored (Wu et al. pick the variance on a validation
  set the same way; a choice at an end of the grid asks for a wider grid). Quantized data (the
  digits take 17 values) let a density grow without bound as sigma shrinks on pixels a model
  reproduces exactly; `dequantization` = w adds U(0, w) noise to every held-out value first
  (w = one quantization step: 2/16 for the digits in [-1, 1]), as Wu et al.'s code does to MNIST;
- "auto": "decoder" where the model has one (VAE, VAE-GAN), else "gaussian" (a GAN).
A conditional model is scored on the held-out labels, log p(x|y).

Scores, nats per example (higher is better):
- "ais_log_likelihood": the mean over the first `num_examples` held-out examples of the AIS
  estimate of log p(x) (a stochastic lower bound), `chains` chains each, `steps` intermediate
  distributions of schedule `schedule`, HMC with `leapfrog_steps` leapfrog steps;
- "ais_acceptance": the HMC transitions' mean acceptance rate (steered to 0.65);
- "ais_sigma": the Gaussian observation's sigma, chosen or given;
- with `bdmc_examples` = n > 0: "bdmc_lower", "bdmc_upper" and "bdmc_gap", means over n examples
  simulated from the model (z ~ N(0, I), x ~ p(x|z)) of forward AIS and of reverse AIS from the
  simulated z; the gap bounds the error of AIS with these settings on such data.
"""

from __future__ import annotations

import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import losses
from jaxgen.algorithms.gan import GAN
from jaxgen.algorithms.infogan import InfoGAN
from jaxgen.algorithms.multigen import MultiGeneratorGAN
from jaxgen.algorithms.reconstructions import RECONSTRUCTIONS
from jaxgen.algorithms.sparse_vae import SparseVAE
from jaxgen.algorithms.vae import VAE
from jaxgen.algorithms.vaegan import VAEGAN
from jaxgen.evaluators import BaseEvaluator, Context, register_evaluator
from jaxgen.evaluators.base import algorithm_class
from jaxgen.metrics import ais
from jaxgen.nn import autoencoder as ae_nets
from jaxgen.options import Option, integer, number

BATCH_SIZE = 50  # examples per AIS call, each with `chains` chains: bounds the decoder's batch
OBSERVATIONS = ("auto", "decoder", "gaussian")
DEFAULT_SIGMA_GRID = (0.025, 0.05, 0.1, 0.2, 0.4)
DEFAULT_VALIDATION_EXAMPLES = 20


def check_sigma(value) -> float | str:
  """The Gaussian observation's sigma: "auto" (chosen on validation data) or a number > 0."""
  if value == "auto":
    return value
  if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
    raise ValueError(f"must be 'auto' or a number > 0; got {value!r}.")
  return float(value)


def check_sigma_grid(value) -> tuple[float, ...]:
  """The candidate sigmas: a non-empty sequence of distinct numbers > 0."""
  values = tuple(value) if isinstance(value, list | tuple) else ()
  positive = lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < math.inf
  if not values or not all(map(positive, values)):
    raise ValueError(f"must be a non-empty sequence of numbers > 0; got {value!r}.")
  if len(set(values)) != len(values):
    raise ValueError(f"lists a sigma twice: {value!r}.")
  return tuple(float(v) for v in values)


def decoder_kind(algorithm) -> str | None:
  """The kind of decoder-based model `algorithm` (a class or an instance) is: "decoder" with a
  likelihood p(x|z) (VAE, VAE-GAN), "generator" for a GAN with one generator of z ~ N(0, I), None
  for a registered factory (judged once built). Any other raises ValueError, one line."""
  built = algorithm_class(algorithm)
  if built is None:
    return None
  name = built.__name__
  if issubclass(built, SparseVAE):
    raise ValueError(
      f"'ais' anneals from z ~ N(0, I); {name}'s spike-and-slab prior puts mass at z = 0, which "
      "HMC cannot sample: score it with 'elbo'."
    )
  if issubclass(built, VAE | VAEGAN):
    return "decoder"
  if issubclass(built, InfoGAN | MultiGeneratorGAN):
    raise ValueError(
      f"'ais' needs one generator of z ~ N(0, I); {name}'s generator also reads latent codes or "
      "comes in several: score it with 'images'."
    )
  if issubclass(built, GAN):
    if not isinstance(algorithm, type):  # built: its roles say what G reads
      one = len(algorithm.generator_players) == 1
      if not (one and algorithm.generator_input_dim == algorithm.latent_dim):
        raise ValueError(f"'ais' needs one generator of z ~ N(0, I) alone; {name} has more.")
    return "generator"
  raise ValueError(
    f"'ais' needs a decoder-based model with z ~ N(0, I) (vae, vaegan, or a GAN with one "
    f"generator); {name} is not one: score it with its own evaluators."
  )


def held_out_splits(options, held: dict, gaussian: bool) -> tuple[dict, dict | None]:
  """The scored examples (the first `num_examples`) and, where sigma is chosen, the validation
  examples (the last `validation_examples`); refused when they would overlap."""
  count = len(held["x"])
  chooses = gaussian and options.sigma == "auto"
  needed = options.num_examples + (options.validation_examples if chooses else 0)
  if needed > count:
    extra = f" + validation_examples = {options.validation_examples}" if chooses else ""
    raise ValueError(
      f"'ais' needs num_examples = {options.num_examples}{extra} held-out examples; the data "
      f"hold {count}: lower them."
    )
  labels = held.get("y")
  take = lambda part: {"x": held["x"][part], "y": None if labels is None else labels[part]}
  scored = take(slice(0, options.num_examples))
  return scored, take(slice(count - options.validation_examples, count)) if chooses else None


def dequantized(width: float, key, *splits: dict | None) -> list[dict | None]:
  """Each split with U(0, width) noise added to every value of its "x" (one draw per split from
  `key`): a continuous density scores quantized data on their bins, not on the bins' corners
  (Theis, van den Oord & Bethge 2016, sec. 3.1; Wu et al.'s code adds U(0, 1/256) to MNIST)."""
  noisy = []
  for index, split in enumerate(splits):
    if split is None:
      noisy.append(None)
      continue
    x = np.asarray(split["x"])
    noise = jax.random.uniform(jax.random.fold_in(key, index), x.shape, minval=0.0, maxval=width)
    noisy.append({**split, "x": (x + np.asarray(noise)).astype(x.dtype)})
  return noisy


def ais_settings(options) -> dict:
  """The AIS arguments of the evaluator's options: schedule, chains and HMC settings."""
  return dict(
    betas=ais.schedule(options.schedule, options.steps),
    num_chains=options.chains,
    hmc=ais.HMCSettings(leapfrog_steps=options.leapfrog_steps),
    # On CPU, XLA runs the decoders' convolutions several times slower inside a loop body
    # (jax#12868): loop over the schedule from Python there; elsewhere one lax.scan.
    loop="host" if jax.default_backend() == "cpu" else "scan",
  )


def check_observation_options(options, kind: str | None) -> None:
  """The options agree with the observation model of a decoder of `kind` ("decoder", "generator"
  or None before the run is known): none is given that would go unused."""
  observation = options.observation
  if kind == "generator" and observation == "decoder":
    raise ValueError(
      "a GAN's generator defines no p(x|z); set observation to 'gaussian' (or 'auto')."
    )
  gaussian = observation == "gaussian" or (observation == "auto" and kind == "generator")
  decoder_likelihood = kind is not None and not gaussian
  if decoder_likelihood and options.sigma != "auto":
    raise ValueError(
      f"sigma = {options.sigma} sets the gaussian observation; this run's is its decoder's "
      "likelihood: leave sigma out, or set observation = 'gaussian'."
    )
  if decoder_likelihood and options.dequantization:
    raise ValueError(
      f"dequantization = {options.dequantization} spreads the examples for a density; this "
      "run's observation is its decoder's likelihood: leave it out, or set observation = "
      "'gaussian'."
    )
  chooses = options.sigma == "auto" and (gaussian or kind is None)
  defaults = (DEFAULT_SIGMA_GRID, DEFAULT_VALIDATION_EXAMPLES)
  if not chooses and (options.sigma_grid, options.validation_examples) != defaults:
    raise ValueError(
      "sigma_grid and validation_examples choose sigma; they apply only with a gaussian "
      "observation and sigma = 'auto'."
    )


@register_evaluator("ais")
class AnnealedImportanceSampling(BaseEvaluator):
  """Held-out log p(x) of a decoder-based model by AIS, and BDMC's bracket; see the module
  docstring."""

  OPTIONS = (
    Option("num_examples", 50, "held-out examples scored (the first ones)", check=integer(1)),
    Option("chains", 16, "K, independent AIS chains per example", check=integer(1)),
    Option("steps", 500, "T, intermediate distributions of the schedule", check=integer(1)),
    Option("leapfrog_steps", 10, "L, leapfrog steps per HMC transition", check=integer(1)),
    Option(
      "schedule",
      "sigmoidal",
      "inverse temperatures: sigmoidal (Grosse et al. 2015) or linear",
      choices=tuple(ais.SCHEDULES),
    ),
    Option(
      "observation",
      "auto",
      "p(x|z): the decoder's likelihood, gaussian N(mean(z), sigma^2 I), or auto",
      choices=OBSERVATIONS,
    ),
    Option(
      "sigma",
      "auto",
      "the gaussian observation's std, or auto",
      check=check_sigma,
      types=(str, float),
    ),
    Option(
      "sigma_grid",
      DEFAULT_SIGMA_GRID,
      "sigma = auto: the candidates, picked on the validation examples",
      check=check_sigma_grid,
    ),
    Option(
      "validation_examples",
      DEFAULT_VALIDATION_EXAMPLES,
      "sigma = auto: held-out examples (the last ones, never scored) that pick sigma",
      check=integer(1),
    ),
    Option("bdmc_examples", 10, "examples simulated for BDMC's bracket; 0: none", check=integer(0)),
    Option(
      "dequantization",
      0.0,
      "gaussian: width w of the uniform noise U(0, w) added to each held-out value; 0: none",
      check=number(0.0),
    ),
  )

  def __init__(self, config, options):
    """See `BaseEvaluator`; the observation model is built at the first call."""
    super().__init__(config, options)
    self._observation = None  # (algorithm, Observation): one per run, so one compilation

  @classmethod
  def check(cls, options, algorithm, facts) -> None:
    """The algorithm is a decoder-based model with z ~ N(0, I), and the options agree with its
    observation model (`check_observation_options`)."""
    check_observation_options(options, decoder_kind(algorithm))

  def observation(self, algorithm) -> Observation:
    """The run's observation model, built once (its functions key the AIS compilation)."""
    if self._observation is None or self._observation[0] is not algorithm:
      kind = decoder_kind(algorithm)
      gaussian = self.options.observation == "gaussian" or kind == "generator"
      self._observation = (algorithm, Observation(algorithm, kind, gaussian, self.config))
    return self._observation[1]

  def __call__(self, context: Context) -> dict[str, float]:
    """{"ais_log_likelihood", "ais_acceptance"[, "ais_sigma"][, "bdmc_lower", "bdmc_upper",
    "bdmc_gap"]}: means per example, nats."""
    options, state = self.options, context.state
    observation = self.observation(context.algorithm)
    scored, validation = held_out_splits(options, context.data.every_held_out, observation.gaussian)
    keys = jax.random.split(jax.random.key(context.data.seed), 4)
    sigma_key, score_key, bdmc_key, noise_key = keys
    if options.dequantization:
      scored, validation = dequantized(options.dequantization, noise_key, scored, validation)
    scores, sigma = {}, 1.0  # sigma reaches only the gaussian observation's likelihood
    if observation.gaussian:
      sigma = options.sigma
      if sigma == "auto":
        sigma = self.select_sigma(observation, state, validation, sigma_key)
      scores["ais_sigma"] = sigma
    log_p, acceptance = self.estimate(observation, state, scored, sigma, score_key)
    scores |= {"ais_log_likelihood": float(np.mean(log_p)), "ais_acceptance": float(acceptance)}
    if options.bdmc_examples:
      lower, upper = self.bracket(observation, state, sigma, bdmc_key)
      scores |= {"bdmc_lower": lower, "bdmc_upper": upper, "bdmc_gap": upper - lower}
    return scores

  def estimate(self, observation: Observation, state, examples: dict, sigma, key):
    """AIS estimates of log p(x) [n] of `examples`, in batches of BATCH_SIZE, and the mean
    acceptance rate."""
    x, labels = examples["x"], observation.labels(examples["y"])
    log_p, acceptance = [], []
    for start in range(0, len(x), BATCH_SIZE):
      part = slice(start, start + BATCH_SIZE)
      args = (state, None if labels is None else labels[part], jnp.float32(sigma))
      run = ais.ais_log_likelihood(
        observation.log_likelihood,
        x[part],
        jax.random.fold_in(key, start),
        latent_dim=observation.latent_dim,
        args=args,
        **ais_settings(self.options),
      )
      log_p.append(np.asarray(run.log_marginal, np.float64))
      acceptance.append(np.asarray(run.acceptance, np.float64))
    return np.concatenate(log_p), float(np.mean(np.concatenate(acceptance)))

  def select_sigma(self, observation: Observation, state, validation: dict, key) -> float:
    """The sigma of `sigma_grid` whose mean AIS log-likelihood of the validation examples is
    highest (Wu et al. 2017: the observation variance chosen on a validation set)."""
    grid = self.options.sigma_grid
    means = [np.mean(self.estimate(observation, state, validation, s, key)[0]) for s in grid]
    return grid[int(np.argmax(means))]

  def bracket(self, observation: Observation, state, sigma, key) -> tuple[float, float]:
    """BDMC on `bdmc_examples` examples simulated from the model: the means of the forward
    (lower) and reverse (upper) AIS estimates."""
    count = self.options.bdmc_examples
    latent_key, sample_key, run_key = jax.random.split(key, 3)
    z = jax.random.normal(latent_key, (count, observation.latent_dim))  # z ~ p(z) = N(0, I)
    classes = observation.num_classes
    labels = jnp.arange(count) % classes if classes else None  # as the run's sampler cycles them
    args = (state, labels, jnp.float32(sigma))
    x = observation.simulate(sample_key, z, args)
    result = ais.bdmc(
      observation.log_likelihood,
      x,
      z,
      run_key,
      reverse_chains=1,
      args=args,
      **ais_settings(self.options),
    )
    return float(np.mean(result.lower)), float(np.mean(result.upper))


class Observation:
  """p(x|z) of a run's decoder-based model: the log-likelihood the AIS chains read, and the draws
  x ~ p(x|z) BDMC simulates. Its methods take args = (state, labels or None, sigma); sigma is read
  by the gaussian observation only."""

  def __init__(self, algorithm, kind: str, gaussian: bool, config):
    """`kind`: "decoder" (a VAE's or VAE-GAN's decoder) or "generator" (a GAN's); `gaussian`:
    N(mean(z), sigma^2 I) instead of the decoder's own likelihood."""
    self.algorithm, self.kind, self.gaussian = algorithm, kind, gaussian
    self.latent_dim = int(algorithm.latent_dim)
    if kind == "generator":
      self.num_classes = int(algorithm.generator_classes)
    else:
      self.num_classes = int(algorithm.num_classes) if algorithm.conditional else 0
    self.simulate = jax.jit(self.sample)  # x ~ p(x|z), compiled once
    self.decoder_likelihood = None if gaussian else algorithm.reconstruction_name
    self.decoder_std = None
    if self.decoder_likelihood == "gaussian":  # the std of the decoder's Gaussian likelihood
      default = inspect.signature(RECONSTRUCTIONS["gaussian"]).parameters["std"].default
      self.decoder_std = float(config.algorithm.reconstruction.get("std", default))

  def labels(self, labels):
    """The labels the model is conditioned on (None: an unconditional model)."""
    return labels if self.num_classes else None

  def _output(self, state, z, labels):
    """The decoder's logits (decoder likelihood) or the mean image (gaussian) of z [N, d]."""
    algorithm = self.algorithm
    if self.kind == "generator":
      params = algorithm.evaluation_params(state)
      return algorithm.generate(state, None, z.shape[0], labels, train=False, params=params, z=z)[0]
    if self.gaussian:
      return algorithm.decode(state, z, labels)
    return algorithm.decode_logits(state, z, labels)

  def log_likelihood(self, z, x, args):
    """log p(x_b | z_kb) [K, B] for chains z [K, B, d] and examples x [B, ...]."""
    state, labels, sigma = args
    num_chains, batch = z.shape[:2]
    tiled = None if labels is None else jnp.tile(labels, num_chains)  # row k * B + b: label b
    output = self._output(state, z.reshape((num_chains * batch, -1)), tiled)
    x = jnp.broadcast_to(x, (num_chains, *x.shape)).reshape(output.shape)
    if self.gaussian:  # log N(x; mean(z), sigma^2 I) (Wu et al. 2017's observation model)
      log_p = losses.gaussian_log_density(x, output, 2.0 * jnp.log(sigma))
    else:
      log_p = -self.algorithm.reconstruction(x, output)
    return log_p.reshape((num_chains, batch))

  def sample(self, key, z, args):
    """x ~ p(x|z) [N, ...] for latents z [N, d]: Bernoulli pixels mapped to {-1, 1}, or a
    Gaussian around the mean image."""
    state, labels, sigma = args
    output = self._output(state, z, labels)
    if self.decoder_likelihood == "bernoulli":  # on-probability sigmoid(l) (K&W 2014, App. C.1)
      return 2.0 * jax.random.bernoulli(key, jax.nn.sigmoid(output)).astype(output.dtype) - 1.0
    if self.decoder_likelihood == "gaussian":
      mean, sigma = ae_nets.logits_to_image(output), self.decoder_std
    else:
      mean = output
    return mean + sigma * jax.random.normal(key, mean.shape, mean.dtype)
