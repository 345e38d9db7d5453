"""GAN on the 8-Gaussian ring with PacGAN's networks (Lin et al. 2018, Table 1 setup).

python scripts/train.py --config=jaxgen/configs/gan_ring8.py --workdir=workdirs/gan_ring8
"""

from jaxgen.configs import default


def get_config():
  config = default.get_config()
  config.data.name = "ring8"
  config.batch_size = 100  # PacGAN: batch 100
  config.num_steps = 10000  # PacGAN trains 400 epochs (400k steps); 10k fits a CPU session
  config.eval_every = 2500
  config.checkpoint_every = 2500
  config.model.latent_dim = 2  # PacGAN: z_dim 2
  config.model.generator = {"name": "mlp", "hidden": (400, 400, 400, 400), "batch_norm": True}
  config.model.discriminator = {"name": "mlp", "hidden": (200, 200, 200), "maxout_pieces": 5}
  # PacGAN: Adam lr 1e-4, beta1 0.8.
  adam = {"name": "adam", "learning_rate": 1e-4, "b1": 0.8, "b2": 0.999}
  config.optimizer.generator = dict(adam)
  config.optimizer.discriminator = dict(adam)
  config.eval.evaluators = ("points",)  # scatter plot and mode coverage (jaxgen.evaluators)
  return config
