"""Flax linen modules only — no losses, no optimizers."""

from jaxgen.nn.registry import (
  DECODERS,
  DISCRIMINATORS,
  ENCODERS,
  GENERATORS,
  NETWORKS,
  TRANSLATORS,
  build_network,
)

__all__ = [
  "DECODERS",
  "DISCRIMINATORS",
  "ENCODERS",
  "GENERATORS",
  "NETWORKS",
  "TRANSLATORS",
  "build_network",
]
