"""gan_ring8 with tiny networks, for tests that run the command line."""

from jaxgen.configs import gan_ring8


def get_config():
  config = gan_ring8.get_config()
  config.model.generator = {"name": "mlp", "hidden": (16, 16), "batch_norm": True}
  config.model.discriminator = {"name": "mlp", "hidden": (16, 16), "maxout_pieces": 2}
  return config
