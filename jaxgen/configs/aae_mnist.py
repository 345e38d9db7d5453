"""Adversarial autoencoder (Makhzani et al. 2015) on MNIST from TFDS: `aae_digits` with wider conv
networks and the mixture-of-10-Gaussians prior.

  python scripts/train.py --config=jaxgen/configs/aae_mnist.py --workdir=workdirs/aae_mnist
"""

from jaxgen.configs import aae_digits, vae_mnist


def get_config():
  config = vae_mnist.use_mnist(aae_digits.get_config(), steps=20000)
  config.model.encoder = {"name": "conv", "base_features": 64, "hidden": 512}
  config.model.decoder = {"name": "conv", "base_features": 64}
  config.model.discriminator = {"name": "mlp", "hidden": (1000, 1000), "maxout_pieces": 0}
  return config
