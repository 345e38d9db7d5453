"""SAGAN (Zhang et al. 2019) on the bundled 8x8 digits, padded to 16x16: the main job's data and
step budget (`dcgan_digits`) with self-attention, spectral norm in G and D, the hinge loss and TTUR.

python scripts/train.py --config=jaxgen/configs/sagan_digits.py --workdir=workdirs/sagan_digits
"""

from jaxgen.configs import dcgan_digits


def get_config():
  config = dcgan_digits.get_config()
  # Hinge loss (Zhang et al. 2019, sec. 4 / eq. 5 footnote; Lim & Ye 2017; Miyato et al. 2018).
  config.algorithm.loss = "hinge"
  # SAGAN networks at dcgan_digits' width; attention on the 8x8 hidden maps (Zhang et al. 2019,
  # sec. 5.1: middle-to-high level feature maps). Spectral norm is inside both networks, so the
  # `algorithm.stabilisers.spectral_norm` switch (D only) stays off.
  config.model.generator = {"name": "sagan", "base_features": 32, "attention_resolution": 8}
  config.model.discriminator = {"name": "sagan", "base_features": 32, "attention_resolution": 8}
  # TTUR (Heusel et al. 2017) as SAGAN: G lr 1e-4, D lr 4e-4, Adam beta1 0, beta2 0.9 (Zhang et al.
  # 2019, sec. 5), one D step per G step.
  config.optimizer.generator = {"name": "adam", "learning_rate": 1e-4, "b1": 0.0, "b2": 0.9}
  config.optimizer.discriminator = {"name": "adam", "learning_rate": 4e-4, "b1": 0.0, "b2": 0.9}
  config.algorithm.discriminator_steps = 1
  config.eval.extractor = "digits_classifier"  # as dcgan_digits
  return config
