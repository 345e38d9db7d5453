"""The reconstruction terms of the autoencoder algorithms: per-example costs of x given the
decoder's logits, by name (`algorithm.reconstruction = {"name": ..., **options}`).

The log-likelihoods (`LIKELIHOODS`) are -log p(x|z) of a Bernoulli or a Gaussian decoder (Kingma &
Welling 2014, App. C); "squared_error" is the cost c(x, y) of WAE (Tolstikhin et al. 2018, sec. 4).
`overrides` lists the names and each factory's options from `RECONSTRUCTIONS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from jaxgen import losses
from jaxgen.nn import autoencoder as ae_nets
from jaxgen.options import REQUIRED, Option, validated_by


def _bernoulli():
  """-log p(x|z) for a Bernoulli decoder on pixel-on probabilities (x + 1) / 2 (K&W 2014, C.1)."""
  return lambda x, logits: -losses.bernoulli_log_likelihood(logits, 0.5 * (x + 1.0))


def _gaussian(std: float = 0.1):
  """-log p(x|z) for a Gaussian decoder N(x; tanh(l / 2), std^2 I) (K&W 2014, App. C.2)."""
  if not (isinstance(std, int | float) and std > 0):
    raise ValueError(f"The gaussian reconstruction's std must be a number > 0; got {std!r}.")
  log_variance = 2.0 * math.log(std)
  return lambda x, logits: (
    -losses.gaussian_log_density(x, ae_nets.logits_to_image(logits), log_variance)
  )


def _squared_error():
  """c(x, y) = ||x - y||^2, the cost of WAE (Tolstikhin et al. 2018, sec. 4: 'l2sq')."""
  return lambda x, logits: losses.sum_event(jnp.square(x - ae_nets.logits_to_image(logits)))


RECONSTRUCTIONS: dict[str, Callable[..., Callable]] = {
  "bernoulli": _bernoulli,
  "gaussian": _gaussian,
  "squared_error": _squared_error,
}
# The reconstruction terms that are log-likelihoods (an ELBO or IWAE bound needs one).
LIKELIHOODS = ("bernoulli", "gaussian")


def build_reconstruction(config, allowed=tuple(RECONSTRUCTIONS)):
  """The reconstruction term from `{"name": ..., **options}`, among `allowed`."""
  options = dict(config)
  name = options.pop("name", None)
  if name not in allowed:
    raise ValueError(f"Unknown reconstruction {name!r}; choose one of {sorted(allowed)}.")
  try:
    return RECONSTRUCTIONS[name](**options)
  except TypeError as error:
    raise ValueError(
      f"Bad options {sorted(options)} for the {name!r} reconstruction: {error}"
    ) from None


def reconstruction_option(allowed: tuple[str, ...]) -> Option:
  """`algorithm.reconstruction`, {"name": ..., **options}, among `allowed`."""
  return Option(
    "reconstruction",
    REQUIRED,
    "the decoder's term -log p(x|z) or cost c(x, y): {'name': ...}",
    check=validated_by(lambda config: build_reconstruction(config, allowed)),
    choices=allowed,
  )


def check_positive_int(name: str, value: Any) -> int:
  """`value` if it is an int >= 1; a ValueError naming the setting `name` otherwise."""
  if not (isinstance(value, int) and value >= 1):
    raise ValueError(f"{name} must be an int >= 1; got {value!r}.")
  return value
