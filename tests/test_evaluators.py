"""Evaluators by name (`jaxgen.evaluators`): one registered here, outside jaxgen, runs in the loop
by name; names, options and misfits are refused with the valid choices; old records keep what
they evaluated; the translation metrics are pure functions checked by hand; a VAE's held-out ELBO
and an autoencoder's reconstruction errors match the bounds written out here."""

import json
import types

import jax
import ml_collections
import numpy as np
import pytest
import tiny_ring8_config

from jaxgen import algorithms, data, evaluators
from jaxgen.algorithms.base import Evaluation
from jaxgen.configs import cvae_digits, cyclegan_digits, dcgan_digits, vae_digits
from jaxgen.errors import ConfigError
from jaxgen.evaluators import BaseEvaluator, register_evaluator
from jaxgen.metrics import translation
from jaxgen.options import Option, number
from jaxgen.run import checkpoint, plots, train
from jaxgen.run.overrides import apply_overrides

TINY = {"batch_size": 32, "eval_every": 6, "checkpoint_every": 6, "log_every": 1}
TINY |= {"progress_bar": False, "eval.num_samples": 200}


def tiny_ring_config(**overrides):
  """gan_ring8 with tiny networks, a few steps, small evaluations."""
  config = tiny_ring8_config.get_config()
  apply_overrides(config, {**TINY, **overrides})
  return config


@register_evaluator("sample_mean")
class SampleMean(BaseEvaluator):
  """A toy evaluator of a user's own: `scale` times the mean of the run's samples."""

  OPTIONS = (Option("scale", 1.0, "a factor on the mean", check=number()),)

  def __call__(self, context):
    """{"sample_mean": scale * the mean of the samples}."""
    return {"sample_mean": self.options.scale * float(np.mean(context.samples))}


def _records(workdir):
  """The records of `workdir`'s metrics.jsonl."""
  return [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def test_an_evaluator_registered_outside_jaxgen_runs_in_the_loop_by_name(tmp_path):
  """Named in the config with an option, it runs beside "points"; its metric is logged."""
  entries = ("points", {"name": "sample_mean", "scale": 2.0})
  config = tiny_ring_config(num_steps=6, **{"eval.evaluators": entries})
  state = train.train_and_evaluate(config, tmp_path)
  (evaluated,) = [r for r in _records(tmp_path) if "eval/sample_mean" in r]
  assert evaluated["step"] == 6 and "eval/modes" in evaluated
  # The same draw every evaluator of the evaluation scores: the run's samples at seed + 1.
  run = train.Run(config)
  samples = run.sample(state, config.eval.num_samples, seed=config.seed + 1)
  np.testing.assert_allclose(evaluated["eval/sample_mean"], 2.0 * np.mean(samples), rtol=1e-6)
  # The first evaluator draws samples_<step>.png; the toy one draws nothing.
  assert (tmp_path / "samples_0000006.png").stat().st_size > 1000
  assert not list(tmp_path.glob("samples_sample_mean_*"))


@pytest.mark.parametrize(
  ("entries", "message"),
  [
    (("pointz",), r"eval\.evaluators\[0\] = 'pointz' is not one of \[.*'points'.*'sample_mean'"),
    (({"name": "imagez"},), r"eval\.evaluators\[0\]\.name = 'imagez' is not one of .*'images'"),
    ("points", r"eval\.evaluators = 'points' is not a tuple.*\('points',\)"),
    (({"name": "sample_mean", "scal": 2.0},), r"\['scal'\], not options of .*\['scale'\]"),
    (({"name": "sample_mean", "scale": "2"},), r"eval\.evaluators\[0\]\.scale = '2' is refused"),
    (("images",), r"eval\.evaluators\[0\] = 'images' does not fit .*\(2,\).*name 'points'"),
    (("translation",), r"'translation' needs an algorithm with translators"),
    (("points", "points"), r"names 'points' twice"),
    ((), r"eval\.evaluators = \(\) names no evaluator.*'images'.*'points'"),
    (("elbo",), r"eval\.evaluators\[0\] = 'elbo' does not fit .*'elbo' needs a VAE .*not GAN"),
    (("reconstruction",), r"'reconstruction' needs an autoencoder .*not GAN"),
  ],
)
def test_bad_evaluators_are_refused_naming_the_key_value_and_choices(entries, message):
  """Each refusal is one ConfigError naming the key, the value and the choices."""
  record = tiny_ring_config().to_dict()
  record["eval"]["evaluators"] = entries  # as a hand-written config or config.json may hold it
  with pytest.raises(ConfigError, match=message):
    train.Run(ml_collections.ConfigDict(record))


def test_the_algorithm_default_runs_when_the_config_names_none():
  """eval.evaluators = (): CycleGAN's declared default, with its option defaults."""
  config = cyclegan_digits.get_config()
  config.eval.evaluators = ()
  dataset = data.get("unpaired", **dict(config.data.options))
  chosen = evaluators.configured(config, algorithms.get("cyclegan"), dataset)
  assert chosen == (Evaluation("translation", {"grid_count": 8}),)


@pytest.mark.parametrize(
  ("make", "expected"),
  [
    (tiny_ring_config, ["points"]),
    (dcgan_digits.get_config, ["images"]),
    (cyclegan_digits.get_config, ["translation"]),
    (vae_digits.get_config, ["images"]),  # not the VAE's default declared since: ("images", "elbo")
  ],
)
def test_a_record_from_before_the_key_resumes_and_evaluates_as_it_did(tmp_path, make, expected):
  """A config.json without eval.evaluators evaluates, and resumes, as the loop did then."""
  config = make()
  config.eval.evaluators = tuple(expected)  # what the config named when the run was recorded
  record = json.loads(config.to_json_best_effort(sort_keys=True))
  del record["eval"]["evaluators"]
  checkpoint.check_config_matches(tmp_path, json.dumps(record))  # the old run's config.json
  old = train.recorded_config(tmp_path)  # what scripts/evaluate.py reads
  chosen = evaluators.configured(old, algorithms.get(old.algorithm.name))
  assert [e.name for e in chosen] == expected
  checkpoint.check_config_matches(tmp_path, config.to_json_best_effort(sort_keys=True))  # resumes
  # What is measured may change on resume (`checkpoint.RESUMABLE_KEYS`); the record follows.
  config.eval.evaluators = ("images",) if expected != ["images"] else ("points",)
  checkpoint.check_config_matches(tmp_path, config.to_json_best_effort(sort_keys=True))
  assert tuple(train.recorded_config(tmp_path).eval.evaluators) == config.eval.evaluators


def test_a_second_evaluator_draws_its_own_picture(tmp_path):
  """samples_<step>.png is the first evaluator's; the others draw samples_<name>_<step>.png."""
  config = tiny_ring_config(**{"eval.evaluators": ("sample_mean", "points")})
  run = train.Run(config)
  scores = train.Evaluator(run)(run.init_state(), 3, tmp_path)
  assert set(scores) == {"eval/sample_mean", "eval/modes", "eval/high_quality", "eval/reverse_kl"}
  assert (tmp_path / "samples_points_0000003.png").stat().st_size > 1000
  assert not (tmp_path / "samples_0000003.png").exists()


def test_translation_metrics_are_pure_functions_of_arrays():
  """Cycle errors, variant shares and nearest variants of hand-made arrays."""
  a = np.zeros((4, 2, 2, 1))
  b = np.ones((4, 2, 2, 1))
  t = translation.Translations(a, b, g_a=-a, f_b=-b, fg_a=a + 0.25, gf_b=b - 0.5)
  assert translation.cycle_errors(t) == {"cycle_error_a": 0.25, "cycle_error_b": 0.5}
  shares = translation.variant_shares(np.array([0, 1, 1, 1]), 3)
  assert shares == {"variant_share_0": 0.25, "variant_share_1": 0.75, "variant_share_2": 0.0}
  # invert_or_invert_transpose: variant 0 is -x, variant 1 is -x^T; each G(a) is one of them.
  images = np.arange(16, dtype=np.float32).reshape(2, 2, 4, 1)[:, :, :2]  # 2 images of 2 x 2
  variants = [-images, -np.swapaxes(images, 1, 2)]
  translated = np.stack([variants[1][0], variants[0][1]])
  nearest = translation.nearest_variants("invert_or_invert_transpose", 2, images, translated)
  np.testing.assert_array_equal(nearest, [1, 0])


def test_the_image_grid_follows_its_options_else_the_algorithm_classes(tmp_path, monkeypatch):
  """A conditional algorithm's samples cycle through its classes: one column per class, ten rows,
  unless the entry sets the grid; never chosen by the samples' shape."""
  images = evaluators.get("images")
  defaults = images(None, types.SimpleNamespace(grid_columns=0, grid_count=0))
  assert defaults.grid(10) == (10, 100) and defaults.grid(0) == (8, 64)
  config = dcgan_digits.get_config()
  config.model.generator = {"name": "dcgan", "base_features": 4}
  config.model.discriminator = {"name": "dcgan", "base_features": 4}
  entries = ({"name": "images", "grid_columns": 5, "grid_count": 20},)
  apply_overrides(config, {"batch_size": 8, "eval.extractor": "", "eval.evaluators": entries})
  grids = []
  monkeypatch.setattr(
    plots,
    "save_image_grid",
    lambda x, path, columns, title: grids.append((len(x), columns, path.name, title)),
  )
  run = train.Run(config)
  assert train.Evaluator(run)(run.init_state(), 1, tmp_path) == {}  # no extractor: no metrics
  # Titled with the run's name (its workdir's), algorithm, objective and data, then the step.
  title = f"{tmp_path.name}: gan (non_saturating loss) on digits\nstep 1"
  assert grids == [(20, 5, "samples_0000001.png", title)]


# --- The autoencoders' own numbers: held-out ELBO and reconstruction errors ----------------------


def tiny_vae_config(conditional=False, **overrides):
  """vae_digits (cvae_digits) on 8x8 digits with small MLPs, a few steps, small evaluations."""
  config = (cvae_digits if conditional else vae_digits).get_config()
  config.data.options = {"size": 8}
  config.model.latent_dim = 4
  config.model.encoder = {"name": "mlp", "hidden": (32,)}
  config.model.decoder = {"name": "mlp", "hidden": (32,)}
  apply_overrides(config, {**TINY, "batch_size": 16, **overrides})
  return config


def _bernoulli_log_likelihood(x, logits):
  """log p(x|z) of a Bernoulli decoder on (x + 1) / 2, summed per example (K&W 2014, App. C.1)."""
  t, logits = (np.asarray(x, np.float64) + 1) / 2, np.asarray(logits, np.float64)
  return np.sum(t * logits - np.logaddexp(0.0, logits), axis=(1, 2, 3))


def test_a_vae_run_logs_its_held_out_elbo_and_reconstruction_errors(tmp_path):
  """metrics.jsonl holds the held-out ELBO (one draw of z per example, Bernoulli decoder,
  closed-form KL: K&W 2014, eq. 10, written out here) and the reconstruction errors of the
  posterior mean's decoding; the VAE's own default evaluators are "images" and "elbo"."""
  entries = ("images", "elbo", "reconstruction")
  config = tiny_vae_config(num_steps=2, eval_every=2, checkpoint_every=2)
  config.eval.evaluators = entries
  state = train.train_and_evaluate(config, tmp_path)
  (scores,) = [r for r in _records(tmp_path) if "eval/elbo" in r]
  run = train.Run(config)
  x = run.dataset.eval_data(None, seed=config.seed + 1)["x"]  # every held-out example
  mean, log_variance = (np.asarray(a, np.float64) for a in run.algorithm.encode(state, x))
  eps = np.asarray(jax.random.normal(jax.random.key(config.seed + 1), (1, *mean.shape)))[0]
  z = mean + np.exp(log_variance / 2) * eps
  log_likelihood = _bernoulli_log_likelihood(x, run.algorithm.decode_logits(state, z))
  kl = 0.5 * np.sum(mean**2 + np.exp(log_variance) - 1 - log_variance, axis=1)
  np.testing.assert_allclose(scores["eval/elbo"], np.mean(log_likelihood - kl), rtol=1e-4)
  logits = np.asarray(run.algorithm.decode_logits(state, mean), np.float64)
  reconstruction = -np.mean(_bernoulli_log_likelihood(x, logits))
  np.testing.assert_allclose(scores["eval/reconstruction"], reconstruction, rtol=1e-4)
  pixel_mse = np.mean((np.tanh(logits / 2) - x) ** 2)
  np.testing.assert_allclose(scores["eval/pixel_mse"], pixel_mse, rtol=1e-4)
  config.eval.evaluators = ()
  assert [e.name for e in evaluators.configured(config, run.algorithm)] == ["images", "elbo"]


def test_a_cvae_is_scored_on_the_held_out_labels_and_the_iwae_bound_is_optional():
  """The CVAE's bounds condition on each example's label; `importance_samples` = k adds L_k,
  which lies above the ELBO on average (Burda et al. 2016, Theorem 1)."""
  entries = ({"name": "elbo", "importance_samples": 8},)
  config = tiny_vae_config(conditional=True, **{"eval.evaluators": entries})
  run = train.Run(config)
  state = run.init_state()
  scores = train.Evaluator(run)(state, 0, None)
  held = run.dataset.eval_data(None, seed=config.seed + 1)  # every held-out example
  key = jax.random.key(config.seed + 1)
  elbo = run.algorithm.elbo(state, held["x"], key, labels=held["y"])
  np.testing.assert_allclose(scores["eval/elbo"], np.mean(elbo), rtol=1e-5)
  assert set(scores) == {"eval/elbo", "eval/iwae_8"} and scores["eval/iwae_8"] > scores["eval/elbo"]
  config.eval.evaluators = ({"name": "elbo", "importance_samples": 1},)
  with pytest.raises(ConfigError, match="importance_samples = 1 is the ELBO itself"):
    train.Run(config)
