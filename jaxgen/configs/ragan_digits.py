"""The relativistic average standard GAN, RaSGAN (Jolicoeur-Martineau 2019, sec. 4.3), with the
main job's DCGAN networks and optimizer on the bundled digits (the paper's own DCGAN runs use Adam
2e-4, beta1 0.5 and one D step per G step, as `dcgan_digits` does);
`--config.algorithm.loss=ralsgan` gives RaLSGAN.

python scripts/train.py --config=jaxgen/configs/ragan_digits.py --workdir=workdirs/ragan_digits
"""

from jaxgen.configs import dcgan_digits


def get_config():
  config = dcgan_digits.get_config()
  config.algorithm.loss = "ragan"
  return config
