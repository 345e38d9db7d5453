"""DCGAN on MNIST from TFDS (prepare it once on a machine with internet; see docs/guide/data.md).

  python scripts/train.py --config=jaxgen/configs/dcgan_mnist.py --workdir=workdirs/dcgan_mnist \
      [--config.data.options.data_dir=~/tensorflow_datasets] [--config.conditional=True]
"""

from jaxgen.configs import default


def get_config():
  config = default.get_config()
  config.data.name = "mnist"
  config.data.options = {"data_dir": "", "download": False}
  config.batch_size = 64
  config.num_steps = 20000
  config.eval_every = 2000
  config.checkpoint_every = 2000
  config.model.latent_dim = 100  # Radford et al. 2016: z of dimension 100
  config.model.generator = {"name": "dcgan", "base_features": 64}
  config.model.discriminator = {"name": "dcgan", "base_features": 64}
  return config
