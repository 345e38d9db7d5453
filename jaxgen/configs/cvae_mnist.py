"""Conditional VAE (Sohn et al. 2015) on MNIST from TFDS: `vae_mnist` with labels in both networks.

python scripts/train.py --config=jaxgen/configs/cvae_mnist.py --workdir=workdirs/cvae_mnist
"""

from jaxgen.configs import vae_mnist


def get_config():
  config = vae_mnist.get_config()
  config.conditional = True
  return config
