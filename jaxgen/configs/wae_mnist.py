"""Wasserstein autoencoder (Tolstikhin et al. 2018) on MNIST from TFDS with the authors' MNIST
settings (configs.py of tolstikhin/wae): WAE-MMD, squared-error cost, lambda = 10, 8 latents,
batch 100, Adam(1e-3, beta1 0.5); --config.algorithm.penalty=gan for WAE-GAN.

  python scripts/train.py --config=jaxgen/configs/wae_mnist.py --workdir=workdirs/wae_mnist
"""

from jaxgen.configs import vae_mnist, wae_digits


def get_config():
  config = vae_mnist.use_mnist(wae_digits.get_config(), steps=60000)  # 100 epochs at batch 100
  config.batch_size = 100
  config.model.encoder = {"name": "conv", "base_features": 64, "hidden": 512}
  config.model.decoder = {"name": "conv", "base_features": 64}
  return config
