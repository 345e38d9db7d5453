"""VAE on MNIST from TFDS with the Flax VAE example's model: MLP encoder and decoder with 500
hidden units, 20 latents, Bernoulli decoder, Adam 1e-3, batch 128 (prepare MNIST once on a machine
with internet; see docs/guide/data.md). The Flax example reports a test loss of about 104 nats
after 10 epochs on *binarised* MNIST; our pixels are grey levels in [-1, 1], whose Bernoulli
cross-entropy is not the same number.

  python scripts/train.py --config=jaxgen/configs/vae_mnist.py --workdir=workdirs/vae_mnist \
      [--config.data.options.data_dir=~/tensorflow_datasets]
"""

from jaxgen.configs import vae_digits


def use_mnist(config, steps: int):
  """Points an autoencoder digits config at TFDS MNIST (28 x 28 x 1) for `steps` steps."""
  config.data.name = "mnist"
  config.data.options = {"data_dir": "", "download": False}
  config.eval.extractor = ""  # the digits classifier reads 16 x 16 images; pictures and bounds only
  config.num_steps = steps
  config.eval_every = steps // 10
  config.checkpoint_every = steps // 10
  return config


def get_config():
  config = use_mnist(vae_digits.get_config(), steps=4690)  # 10 epochs of 60000 at batch 128
  config.batch_size = 128
  config.model.latent_dim = 20
  config.model.encoder = {"name": "mlp", "hidden": (500,)}
  config.model.decoder = {"name": "mlp", "hidden": (500,)}
  return config
