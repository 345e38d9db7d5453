"""Conditional DCGAN (Mirza & Osindero 2014) on the digits: one column of samples per class.

python scripts/train.py --config=jaxgen/configs/cgan_digits.py --workdir=workdirs/cgan_digits
"""

from jaxgen.configs import dcgan_digits


def get_config():
  config = dcgan_digits.get_config()
  config.conditional = True
  return config
