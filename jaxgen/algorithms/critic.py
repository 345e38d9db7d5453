"""The critic pipeline any adversarial algorithm assembles: what D sees and how D is run.

    x --instance noise--> --packing--> D (spectral-normalised params) --> outputs, sown features
                                         |_ heads: auxiliary outputs, minibatch discrimination

`Critic` holds D's module (the registry network, wrapped in `HeadedDiscriminator` when it needs
heads) and the stabilisers that act on D's inputs and parameters (`jaxgen.stabilisers`). It is
stateless: every call takes D's params and model state, so the same critic serves D's own loss
(params differentiated), the generator's loss (params constant) and the unrolled GAN's lookahead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import flax
import flax.linen as nn
import jax

from jaxgen import stabilisers as stabilisers_lib
from jaxgen.algorithms import stabiliser_rules as rules
from jaxgen.errors import ConfigError
from jaxgen.nn import gan_zoo
from jaxgen.nn import precision as precision_lib
from jaxgen.nn.registry import DISCRIMINATORS, build_network
from jaxgen.nn.traits import traits_of


def sown_features(intermediates: Mapping[str, Any]) -> jax.Array | None:
  """The (last) `features` a discriminator sowed, wherever it sits in the module tree."""
  flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(intermediates))
  found = [value for path, value in flat.items() if path[-1] == "features"]
  return found[-1][-1] if found else None


def logits_of(outputs) -> jax.Array:
  """D's real/fake logits from its outputs: the array itself, or the first of (logits, aux)."""
  return outputs[0] if isinstance(outputs, tuple) else outputs


@dataclasses.dataclass(frozen=True)
class Critic:
  """D and the stabilisers on its inputs and weights; see the module docstring. `network`: the
  configured D's name and declared traits, for `stabiliser_rules.check_stabilisers`."""

  module: nn.Module
  stabilisers: stabilisers_lib.Stabilisers
  network: rules.Discriminator | None = None

  @classmethod
  def build(
    cls,
    model_config,
    stabilisers: stabilisers_lib.Stabilisers,
    *,
    example_shape: tuple[int, ...],
    num_classes: int,
    aux_outputs: int = 0,
    precision: str = precision_lib.DEFAULT,
  ) -> Critic:
    """D from `model.discriminator`, with heads for `aux_outputs` and minibatch discrimination.

    Which penalty and stabilisers the network allows (e.g. none that needs per-sample gradients of
    a D with batch norm) is the rule's, from the traits the network declares (`network`).
    `precision`: `config.precision`; the whole D, heads included, computes in it (the base is
    built in float32 because the heads module takes it as a flax submodule).
    """
    base = build_network(
      DISCRIMINATORS,
      "discriminator",
      model_config,
      example_shape=example_shape,
      num_classes=num_classes,
    )
    network = rules.Discriminator(dict(model_config)["name"], traits_of(base))
    if stabilisers.spectral_norm and network.traits.self_normalised:
      raise ConfigError(
        f"model.discriminator.name = {network.name!r} already spectrally normalises every layer "
        "(Zhang et al. 2019, sec. 4.1); a second normalisation by "
        "algorithm.stabilisers.spectral_norm = True would divide by sigma twice. Turn it off."
      )
    kernels = stabilisers.minibatch_discrimination
    if aux_outputs or kernels:
      base = gan_zoo.HeadedDiscriminator(base, aux_outputs=aux_outputs, minibatch_kernels=kernels)
    return cls(precision_lib.wrap(base, precision), stabilisers, network)

  def init(self, rng, spectral_rng, x, labels):
    """D's variables for inputs like `x` (packed as D will see them), plus the power-iteration
    vectors of spectral norm in the model-state collection `SPECTRAL_VECTORS`."""
    packing = self.stabilisers.packing
    if packing > 1:
      x = stabilisers_lib.pack(x[: x.shape[0] - x.shape[0] % packing], packing)
    variables = self.module.init(rng, x, labels, train=False, mutable=True)
    variables = {k: v for k, v in variables.items() if k != "intermediates"}
    if self.stabilisers.spectral_norm:
      vectors = stabilisers_lib.init_spectral_vectors(variables["params"], spectral_rng)
      variables[stabilisers_lib.SPECTRAL_VECTORS] = vectors
    return variables

  def inputs(self, step, x, rng):
    """What D sees of a batch: instance noise added (Sonderby et al. 2017), then packed (Lin et
    al. 2018)."""
    s = self.stabilisers
    if s.instance_noise:
      std = stabilisers_lib.instance_noise_std(
        step, s.instance_noise, s.instance_noise_anneal_steps
      )
      x = x + std.astype(x.dtype) * jax.random.normal(rng, x.shape, x.dtype)
    return stabilisers_lib.pack(x, s.packing) if s.packing > 1 else x

  def __call__(self, params, model_state, x, labels):
    """D's outputs on (already prepared) inputs x in training mode, the features it sows, and
    D's updated model state (batch statistics, spectral-norm vectors)."""
    model_state = dict(model_state)
    vectors = model_state.pop(stabilisers_lib.SPECTRAL_VECTORS, None)
    if self.stabilisers.spectral_norm:
      params, vectors = stabilisers_lib.spectral_normalise(params, vectors)
    outputs, updated = self.module.apply(
      {"params": params, **model_state},
      x,
      labels,
      train=True,
      mutable=[*model_state, "intermediates"],
    )
    updated = dict(updated)
    features = sown_features(updated.pop("intermediates", {}))
    if vectors is not None:
      updated[stabilisers_lib.SPECTRAL_VECTORS] = vectors
    return outputs, features, updated

  def real_and_fake(self, step, params, model_state, real, fake, labels, noise_rngs):
    """D on a real and a fake batch, each prepared with its own noise key of `noise_rngs`:
    (D's real input, fake input, real outputs, fake outputs, D's model state after both)."""
    real = self.inputs(step, real, noise_rngs[0])
    fake = self.inputs(step, fake, noise_rngs[1])
    # Real and fake go through D separately, each with its own batch statistics (DCGAN).
    real_out, _, model_state = self(params, model_state, real, labels)
    fake_out, _, model_state = self(params, model_state, fake, labels)
    return real, fake, real_out, fake_out, model_state
