"""Cases by network for `test_registry_gradients.py`: each registered discriminator with each
gradient penalty and with minibatch discrimination (the switches whose meaning depends on what the
network declares, `jaxgen.nn.traits`), where the algorithm cases do not already walk it.

A discriminator whose declared traits break a penalty's or stabiliser's assumption is refused by
the one rule (`jaxgen.algorithms.stabiliser_rules`), and the refusal is a case here: the ProGAN D
mixes samples through its minibatch standard deviation, the DCGAN D through batch norm, the
PatchGAN D outputs one logit per patch, the autoencoder D a reconstruction.
"""

from __future__ import annotations

import functools

from gradient_harness import RefusedCase

from jaxgen.configs import default
from jaxgen.errors import ConfigError

PENALTY_NAMES = ("wgan_gp", "dragan", "r1")
# Tiny image networks on the digits at 8 x 8.
NETWORKS = {
  "progan": {"name": "progan", "features": 4},
  "dcgan": {"name": "dcgan", "base_features": 2, "norm": "batch"},
  "patchgan": {"name": "patchgan", "features": 2, "num_layers": 1},
  "autoencoder": {"name": "autoencoder", "hidden": (4,), "code_dim": 2},
}
# The rule's reasons, from the networks' declarations.
MIXES = r"is not supported by model.discriminator.name = '{name}': it needs per-sample gradients"
NOT_ONE_LOGIT = (
  r"is not supported by model.discriminator.name = 'patchgan': it needs a discriminator that ends "
  r"in one real/fake logit.*outputs one real/fake logit per patch"
)
NOT_LOGITS = (
  r"model.discriminator.name = 'autoencoder' does not fit algorithm 'gan'.*reconstruction"
)


def make_config(discriminator: str, penalty: str | None = None, **switches):
  config = default.get_digits_config()
  config.data.options = {"size": 8}
  config.batch_size, config.conditional = 8, False
  config.model.latent_dim = 2
  config.model.generator = {"name": "dcgan", "base_features": 2}
  config.model.discriminator = dict(NETWORKS[discriminator])
  if penalty:
    config.algorithm.penalty = {"name": penalty, "weight": 2.5}
  for name, value in switches.items():
    config.algorithm.stabilisers[name] = value
  return config


def refused(network, match, *, penalty=None, stabiliser=None, value=None):
  switches = {stabiliser: value} if stabiliser else {}
  label = f"{network}-{penalty or stabiliser or 'alone'}"
  return RefusedCase(
    "gan",
    label,
    functools.partial(make_config, network, penalty, **switches),
    match,
    penalty=penalty,
    stabiliser=stabiliser,
    error=ConfigError,
  )


CASES = [
  # Karras et al. 2018, sec. 3: the minibatch stddev reads every sample of a group.
  *[refused("progan", MIXES.format(name="progan"), penalty=p) for p in PENALTY_NAMES],
  # Ioffe & Szegedy 2015: batch norm reads the batch (Gulrajani et al. 2017, sec. 4).
  *[refused("dcgan", MIXES.format(name="dcgan"), penalty=p) for p in PENALTY_NAMES],
  # A penalty would normalise the gradient of the sum over the patches while the loss averages
  # them; minibatch discrimination's [B] logit would broadcast over the [B, h, w, 1] map.
  *[refused("patchgan", NOT_ONE_LOGIT, penalty=p) for p in PENALTY_NAMES],
  refused("patchgan", NOT_ONE_LOGIT, stabiliser="minibatch_discrimination", value=3),
  # The GAN's objective would read the reconstruction as logits.
  refused("autoencoder", NOT_LOGITS),
]
