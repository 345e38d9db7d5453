"""Networks by name: the registries every algorithm builds its players from.

A registry maps a config name ("mlp", "dcgan", ...) to a factory that takes the data's facts
(`example_shape`, `num_classes`, and for encoders `latent_dim`, `stochastic`, `spike_and_slab`) and
the block's options, and returns the Flax module. They live with the networks, not with an
algorithm, so an autoencoder that uses a GAN discriminator need not import the GAN algorithm, and
`config_check` / `overrides` find every network of a role in one place (`NETWORKS`).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
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

# role (the `model.<role>` block of a config) -> name -> factory.
NETWORKS: dict[str, dict[str, Callable[..., nn.Module]]] = {
  role: {} for role in ("generator", "discriminator", "encoder", "decoder", "translator")
}


@dataclasses.dataclass(frozen=True)
class Declaration:
  """What a registered network is: the Flax class its factory builds and the fields the factory
  sets from the data's facts; the class's other dataclass fields are the block's options."""

  module: type[nn.Module]
  sets: tuple[str, ...] = ()

  def options(self) -> dict[str, object]:
    """{option: default} (dataclasses.MISSING: none) of the `model.<role>` block."""
    return {
      field.name: field.default
      for field in dataclasses.fields(self.module)
      if field.init and field.name not in ("parent", "name", *self.sets)
    }


DECLARATIONS: dict[tuple[str, str], Declaration] = {}


def register_network(role: str, name: str, module: type[nn.Module], sets: tuple[str, ...] = ()):
  """Decorator: `factory(example_shape, num_classes, ..., **options) -> module` becomes
  `model.<role>.name = name`; `module` is the class it builds, `sets` the fields it fills from the
  data's facts. From any module (a user's own, named in `config.imports`)."""
  if role not in NETWORKS:
    raise ValueError(f"Unknown network role {role!r}; choose one of {sorted(NETWORKS)}.")

  def add(factory):
    NETWORKS[role][name] = factory
    DECLARATIONS[role, name] = Declaration(module, tuple(sets))
    return factory

  return add


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


_IMAGE_G, _G = ("image_shape", "num_classes"), ("output_dim", "num_classes")
register_network("generator", "mlp", gan_nets.MLPGenerator, _G)(_mlp_generator)
register_network("generator", "dcgan", gan_nets.DCGANGenerator, _IMAGE_G)(_dcgan_generator)
register_network("generator", "sagan", sagan_nets.SAGANGenerator, _IMAGE_G)(_sagan_generator)
register_network("generator", "progan", progan_nets.ProGANGenerator, ("image_shape",))(
  _progan_generator
)


@register_network("discriminator", "mlp", gan_nets.MLPDiscriminator, ("num_classes",))
def _mlp_discriminator(example_shape, num_classes, **options):
  return gan_nets.MLPDiscriminator(num_classes=num_classes, **options)


@register_network("discriminator", "dcgan", gan_nets.DCGANDiscriminator, ("num_classes",))
def _dcgan_discriminator(example_shape, num_classes, **options):
  return gan_nets.DCGANDiscriminator(num_classes=num_classes, **options)


register_network("discriminator", "sagan", sagan_nets.SAGANDiscriminator, ("num_classes",))(
  _sagan_discriminator
)
register_network("discriminator", "progan", progan_nets.ProGANDiscriminator, ("resolution",))(
  _progan_discriminator
)
register_network("discriminator", "autoencoder", gan_zoo.AutoencoderDiscriminator)(
  _autoencoder_discriminator
)
register_network("discriminator", "patchgan", cyclegan_nets.PatchDiscriminator)(
  _patch_discriminator
)


# --- Image-to-image players (CycleGAN's G and F) ---


def _resnet_translator(example_shape, **options):
  if len(example_shape) != 3:
    raise ValueError(f"The 'resnet' translator maps images; the data has shape {example_shape}.")
  return cyclegan_nets.ResnetTranslator(**options)


register_network("translator", "resnet", cyclegan_nets.ResnetTranslator)(_resnet_translator)


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


_ENCODER = ("latent_dim", "stochastic", "num_classes")
register_network("encoder", "mlp", ae_nets.MLPEncoder, _ENCODER)(_mlp_encoder)
register_network("encoder", "conv", ae_nets.ConvEncoder, _ENCODER)(_conv_encoder)


@register_network("decoder", "mlp", ae_nets.MLPDecoder, ("image_shape", "num_classes"))
def _mlp_decoder(example_shape, num_classes, **options):
  return ae_nets.MLPDecoder(tuple(example_shape), num_classes=num_classes, **options)


register_network("decoder", "conv", ae_nets.ConvDecoder, ("image_shape", "num_classes"))(
  _conv_decoder
)

GENERATORS = NETWORKS["generator"]
DISCRIMINATORS = NETWORKS["discriminator"]
ENCODERS = NETWORKS["encoder"]
DECODERS = NETWORKS["decoder"]
TRANSLATORS = NETWORKS["translator"]


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


# Every module of `jaxgen.nn` is imported, so a network file registers itself where it is written.
for _module in pkgutil.iter_modules(importlib.import_module("jaxgen.nn").__path__):
  importlib.import_module(f"jaxgen.nn.{_module.name}")
