"""DCGAN (Radford et al. 2016) on the bundled 8x8 digits, padded to 16x16 — the quickstart's
main job.

python scripts/train.py --config=jaxgen/configs/dcgan_digits.py --workdir=workdirs/dcgan_digits
"""

from jaxgen.configs import default


def get_config():
  config = default.get_digits_config()
  config.model.latent_dim = 32
  config.model.generator = {"name": "dcgan", "base_features": 32}
  config.model.discriminator = {"name": "dcgan", "base_features": 32}
  config.eval.extractor = "digits_classifier"  # shipped with jaxgen (jaxgen/assets)
  return config
