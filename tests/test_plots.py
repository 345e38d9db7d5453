"""Plots that never hide: the 2-D scatter states what falls outside its frame."""

import json

import numpy as np
from test_train import tiny_ring_config

from jaxgen.data import mixtures
from jaxgen.run import plots, train

RING = mixtures.ring8().centers  # radius 1: the frame is [-1.5, 1.5]^2


def test_a_frame_that_holds_every_sample_says_nothing():
  low, high = plots.frame_around(RING)
  np.testing.assert_allclose(low, [-1.5, -1.5], atol=1e-5)
  np.testing.assert_allclose(high, [1.5, 1.5], atol=1e-5)
  assert plots.outside_note(RING * 1.2, low, high) == ""


def test_samples_outside_the_frame_are_counted_with_the_farthest_distance():
  low, high = plots.frame_around(RING)
  samples = np.concatenate([RING, [[26.0, 0.0], [0.0, -577.0], [np.nan, 0.0]]])
  assert plots.outside_note(samples, low, high) == (
    "3 of 11 samples lie outside this frame (the farthest 577 from its centre); 1 are NaN/inf"
  )


def test_the_scatter_of_far_samples_is_drawn_with_the_note(tmp_path):
  far = np.random.default_rng(0).normal(size=(500, 2)) * 300
  plots.save_scatter(far, tmp_path / "far.png", RING, "far")
  plots.save_scatter(RING, tmp_path / "near.png", RING, "near")
  # The note is drawn in the picture; both are real PNGs of the same size.
  far_png, near_png = (tmp_path / "far.png").read_bytes(), (tmp_path / "near.png").read_bytes()
  assert far_png[:8] == near_png[:8] == b"\x89PNG\r\n\x1a\n" and far_png != near_png


def test_the_loop_says_why_reverse_kl_is_undefined(tmp_path, capfd):
  config = tiny_ring_config(num_steps=2, eval_every=2, checkpoint_every=2)
  config.data.options.radius = 1e4  # modes far from where an untrained generator puts samples
  train.train_and_evaluate(config, tmp_path)
  err = capfd.readouterr().err
  assert (
    "step 2: reverse_kl is undefined (NaN): no generated sample is high quality (within 3 std of a "
    "mode), so the mode histogram p_g is empty." in err
  )
  last = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
  assert last["eval/high_quality"] == 0.0 and np.isnan(last["eval/reverse_kl"])
