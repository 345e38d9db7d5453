"""InfoGAN (Chen et al. 2016) on the 16x16 digits: one 10-way and two continuous codes.

python scripts/train.py --config=jaxgen/configs/infogan_digits.py --workdir=workdirs/infogan
"""

from jaxgen.configs import dcgan_digits


def get_config():
  config = dcgan_digits.get_config()
  config.algorithm.name = "infogan"
  # Chen et al. 2016, sec. 7 (MNIST): c1 ~ Cat(K = 10), c2, c3 ~ U(-1, 1); lambda = 1.
  config.algorithm.categorical_codes = 10
  config.algorithm.continuous_codes = 2
  config.algorithm.info_weight = 1.0
  config.algorithm.noise_prior = "normal"  # z ~ N(0, I); "uniform": U(-1, 1), the authors' code
  config.algorithm.q_hidden = 0  # Q: a linear head on D's features; 128: the paper's FC-BN-lReLU
  return config
