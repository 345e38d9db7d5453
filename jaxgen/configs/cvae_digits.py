"""Conditional VAE (Sohn et al. 2015) on the digits: encoder and decoder both see the label, so a
chosen digit can be generated and one image's style moved to other labels (`transfer_style`).

  python scripts/train.py --config=jaxgen/configs/cvae_digits.py --workdir=workdirs/cvae_digits
"""

from jaxgen.configs import vae_digits


def get_config():
  config = vae_digits.get_config()
  config.conditional = True
  return config
