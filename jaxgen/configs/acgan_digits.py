"""ACGAN (Odena et al. 2017) on the 16x16 digits: one row of samples per class.

python scripts/train.py --config=jaxgen/configs/acgan_digits.py --workdir=workdirs/acgan_digits
"""

from jaxgen.configs import dcgan_digits


def get_config():
  config = dcgan_digits.get_config()
  config.algorithm.name = "acgan"
  return config
