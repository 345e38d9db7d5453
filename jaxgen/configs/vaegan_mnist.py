"""VAE-GAN (Larsen et al. 2016) on MNIST from TFDS: `vaegan_digits` with wider conv networks.
Dis_l is the discriminator's second conv, 7 x 7 x 128 = 6272 features (against 1024 on digits), so
L_llike summed over them is about 6 times larger and gamma is scaled down by that factor.

  python scripts/train.py --config=jaxgen/configs/vaegan_mnist.py --workdir=workdirs/vaegan_mnist
"""

from jaxgen.configs import vae_mnist, vaegan_digits


def get_config():
  config = vae_mnist.use_mnist(vaegan_digits.get_config(), steps=20000)
  config.model.latent_dim = 32
  config.model.encoder = {"name": "conv", "base_features": 64, "hidden": 512}
  config.model.decoder = {"name": "conv", "base_features": 64}
  config.model.discriminator = {"name": "dcgan", "base_features": 64}
  config.algorithm.gamma = vaegan_digits.get_config().algorithm.gamma * 1024 / 6272
  return config
