"""VAE (Kingma & Welling 2014) on the bundled digits padded to 16x16: conv encoder and decoder,
Bernoulli decoder on the pixel intensities, 16 latents. The base of every autoencoder config.

  python scripts/train.py --config=jaxgen/configs/vae_digits.py --workdir=workdirs/vae_digits
"""

import ml_collections

from jaxgen.configs import default


def get_config():
  config = default.get_digits_config()
  config.algorithm = ml_collections.ConfigDict(
    {"name": "vae", "reconstruction": {"name": "bernoulli"}}
  )
  config.model = ml_collections.ConfigDict(
    {
      "latent_dim": 16,
      "encoder": {"name": "conv", "base_features": 32, "hidden": 256},
      "decoder": {"name": "conv", "base_features": 32},
    }
  )
  # Adam with lr 1e-3, the Flax VAE example's setting.
  adam = {"name": "adam", "learning_rate": 1e-3}
  config.optimizer = ml_collections.ConfigDict({"encoder": adam, "decoder": dict(adam)})
  # FID of the samples and the algorithm's own held-out number (ELBO for the VAE family, the
  # reconstruction error for the other autoencoders): its declared `EVALUATORS`.
  config.eval.extractor = "digits_classifier"  # shipped with jaxgen (jaxgen/assets)
  config.eval.evaluators = ()
  return config
