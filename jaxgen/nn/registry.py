"""Networks by name: the registries every algorithm builds its players from.

A registry maps a config name ("mlp", "dcgan", ...) to a factory that takes the data's facts
(`example_shape`, `num_classes`, and for encoders `latent_dim`, `stochastic`, `spike_and_slab`) and
the block's options, and returns the Flax module. They live with the networks, not with an
algorithm, so an autoencoder that uses a GAN discriminator need not import the GAN algorithm, and
`config_check` / `overrides` find every network of a role in one place (`NETWORKS`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import flax.linen as nn

from jaxgen.nn import autoencoder as ae_nets
from jaxgen.nn import cyclegan as cyclegan_nets
from jaxgen.nn import gan as gan_nets
from jaxgen.nn import gan_zoo
from jaxgen.nn import precision as precision_lib
from jaxgen.nn import progan as progan_nets
from jaxgen.nn import sagan as sagan_nets

Registry = Mapping[str, Callable[..., nn.Module]]


# --- GAN players ---


def _mlp_generator(example_shape, num_classes, **options):
  if len(example_shape) != 1:
    raise ValueError(f"The 'mlp' generator makes vectors; the data has shape {example_shape}.")
  return gan_nets.MLPGenerator(output_dim=example_shape[0], num_classes=num_classes, **options)


def _dcgan_generator(example_shape, num_classes, **options):
  if len(example_shape) != 3:
    raise ValueError(f"The 'dcgan' generator makes images; the data has shape {example_shape}.")
  return gan_nets.DCGANGenerator(
    image_shape=tuple(example_shape), num_classes=num_classes, **options
  )


def _sagan_generator(example_shape, num_classes, **options):
  if len(example_shape) != 3:
    raise ValueError(f"The 'sagan' generator makes images; the data has shape {example_shape}.")
  module = sagan_nets.SAGANGenerator(
    image_shape=tuple(example_shape), num_classes=num_classes, **options
  )
  return sagan_nets.check_attention_resolution(module, *example_shape[:2])


def _sagan_discriminator(example_shape, num_classes, **options):
  if len(example_shape) != 3:
    raise ValueError(f"The 'sagan' discriminator reads images; the data has shape {example_shape}.")
  module = sagan_nets.SAGANDiscriminator(num_classes=num_classes, **options)
  return sagan_nets.check_attention_resolution(module, *example_shape[:2])


def _progan_generator(example_shape, num_classes, **options):
  if len(example_shape) != 3 or num_classes:
    raise ValueError(
      f"The 'progan' generator makes unconditional images; the data has shape {example_shape}"
      f" and {num_classes} classes (set conditional=False)."
    )
  return progan_nets.ProGANGenerator(image_shape=tuple(example_shape), **options)


def _progan_discriminator(example_shape, num_classes, **options):
  if len(example_shape) != 3 or num_classes:
    raise ValueError(
      f"The 'progan' discriminator reads unconditional images; the data has shape {example_shape}"
      f" and {num_classes} classes (set conditional=False)."
    )
  return progan_nets.ProGANDiscriminator(resolution=example_shape[0], **options)


def _autoencoder_discriminator(example_shape, num_classes, **options):
  if num_classes:
    raise ValueError("The 'autoencoder' discriminator is unconditional; set conditional=False.")
  return gan_zoo.AutoencoderDiscriminator(**options)


def _patch_discriminator(example_shape, num_classes, **options):
  if len(example_shape) != 3 or num_classes:
    raise ValueError(
      f"The 'patchgan' discriminator judges unlabelled images; got examples of shape "
      f"{example_shape} with {num_classes} classes (set conditional=False)."
    )
  return cyclegan_nets.PatchDiscriminator(**options)


GENERATORS: dict[str, Callable[..., nn.Module]] = {
  "mlp": _mlp_generator,
  "dcgan": _dcgan_generator,
  "sagan": _sagan_generator,
  "progan": _progan_generator,
}
DISCRIMINATORS: dict[str, Callable[..., nn.Module]] = {
  "mlp": lambda example_shape, num_classes, **options: gan_nets.MLPDiscriminator(
    num_classes=num_classes, **options
  ),
  "dcgan": lambda example_shape, num_classes, **options: gan_nets.DCGANDiscriminator(
    num_classes=num_classes, **options
  ),
  "sagan": _sagan_discriminator,
  "progan": _progan_discriminator,
  "autoencoder": _autoencoder_discriminator,
  "patchgan": _patch_discriminator,
}


# --- Image-to-image players (CycleGAN's G and F) ---


def _resnet_translator(example_shape, **options):
  if len(example_shape) != 3:
    raise ValueError(f"The 'resnet' translator maps images; the data has shape {example_shape}.")
  return cyclegan_nets.ResnetTranslator(**options)


TRANSLATORS: dict[str, Callable[..., nn.Module]] = {"resnet": _resnet_translator}


# --- Autoencoder players ---


def _mlp_encoder(example_shape, num_classes, latent_dim, stochastic, **options):
  return ae_nets.MLPEncoder(latent_dim, stochastic=stochastic, num_classes=num_classes, **options)


def _conv_encoder(example_shape, num_classes, latent_dim, stochastic, **options):
  if len(example_shape) != 3:
    raise ValueError(f"The 'conv' encoder reads images; the data has shape {example_shape}.")
  return ae_nets.ConvEncoder(latent_dim, stochastic=stochastic, num_classes=num_classes, **options)


def _conv_decoder(example_shape, num_classes, **options):
  if len(example_shape) != 3:
    raise ValueError(f"The 'conv' decoder makes images; the data has shape {example_shape}.")
  return ae_nets.ConvDecoder(tuple(example_shape), num_classes=num_classes, **options)


ENCODERS: dict[str, Callable[..., nn.Module]] = {"mlp": _mlp_encoder, "conv": _conv_encoder}
DECODERS: dict[str, Callable[..., nn.Module]] = {
  "mlp": lambda example_shape, num_classes, **options: ae_nets.MLPDecoder(
    tuple(example_shape), num_classes=num_classes, **options
  ),
  "conv": _conv_decoder,
}

# role (the `model.<role>` block of a config) -> its registry.
NETWORKS: dict[str, dict[str, Callable[..., nn.Module]]] = {
  "generator": GENERATORS,
  "discriminator": DISCRIMINATORS,
  "encoder": ENCODERS,
  "decoder": DECODERS,
  "translator": TRANSLATORS,
}


def build_network(
  registry: Registry | str,
  role: str,
  config,
  *,
  precision: str = precision_lib.DEFAULT,
  **data,
) -> nn.Module | precision_lib.MixedPrecision:
  """Builds the `role` network from `config`, `{"name": ..., **options}`, and the data's facts.

  Args:
    registry: a registry, or the role whose registry in `NETWORKS` to use.
    role: what the network is, for the error messages ("generator", ...).
    config: the `model.<role>` block.
    precision: `config.precision`, the dtype the network computes in (`jaxgen.nn.precision`).
    **data: the facts the registry's factories take (`example_shape`, `num_classes`, ...).

  Raises:
    ValueError: an unknown name (with the valid ones) or options the network does not take.
    ConfigError: an unknown precision.
  """
  if isinstance(registry, str):
    if registry not in NETWORKS:
      raise ValueError(f"Unknown network role {registry!r}; choose one of {sorted(NETWORKS)}.")
    registry = NETWORKS[registry]
  options = dict(config)
  name = options.pop("name", None)
  if name not in registry:
    raise ValueError(f"Unknown {role} network {name!r}; choose one of {sorted(registry)}.")
  try:
    module = registry[name](**data, **options)
  except TypeError as error:  # an unknown keyword in the config
    raise ValueError(f"Bad options {sorted(options)} for the {name!r} {role}: {error}") from None
  return precision_lib.wrap(module, precision)
