"""Training algorithms: each names its players, their gradient functions and its schedule."""

from jaxgen.algorithms.aae import AdversarialAutoencoder
from jaxgen.algorithms.acgan import ACGAN
from jaxgen.algorithms.adagan import AdaGAN
from jaxgen.algorithms.base import (
  AlgorithmBase,
  Evaluation,
  Player,
  PlayerState,
  TrainState,
  apply_module,
  init_train_state,
  make_train_step,
)
from jaxgen.algorithms.cyclegan import CycleGAN
from jaxgen.algorithms.energy import BEGAN, EBGAN
from jaxgen.algorithms.gan import GAN
from jaxgen.algorithms.infogan import InfoGAN
from jaxgen.algorithms.multigen import MultiGeneratorGAN
from jaxgen.algorithms.progan import ProGAN
from jaxgen.algorithms.sparse_vae import SparseVAE
from jaxgen.algorithms.unrolled import UnrolledGAN
from jaxgen.algorithms.vae import VAE
from jaxgen.algorithms.vaegan import VAEGAN
from jaxgen.algorithms.wae import WAE

ALGORITHMS = {
  "gan": GAN,
  "unrolled": UnrolledGAN,
  "acgan": ACGAN,
  "infogan": InfoGAN,
  "ebgan": EBGAN,
  "began": BEGAN,
  "madgan": MultiGeneratorGAN,
  "adagan": AdaGAN,
  "progan": ProGAN,
  "vae": VAE,
  "sparse_vae": SparseVAE,
  "vaegan": VAEGAN,
  "aae": AdversarialAutoencoder,
  "wae": WAE,
  "cyclegan": CycleGAN,
}


def get(name: str):
  """The algorithm class called `name`; the error lists the valid names."""
  if name not in ALGORITHMS:
    raise ValueError(f"Unknown algorithm {name!r}; choose one of {sorted(ALGORITHMS)}.")
  return ALGORITHMS[name]


__all__ = [
  "ALGORITHMS",
  "GAN",
  "AlgorithmBase",
  "Evaluation",
  "Player",
  "PlayerState",
  "TrainState",
  "apply_module",
  "get",
  "init_train_state",
  "make_train_step",
]
