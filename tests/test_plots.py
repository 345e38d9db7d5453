"""Plots that never hide: the 2-D scatter states what falls outside its frame; every picture says
which run it shows (name, algorithm, objective); each metric gets a panel of its own where a single
evaluation shows; grids keep their gaps visible and label their rows."""

import json

import numpy as np
import pytest
from test_train import tiny_ring_config

from jaxgen import configs
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


# --- Pictures that compare across runs ----------------------------------------------------------


@pytest.mark.parametrize(
  ("name", "described"),
  [
    ("gan_ring8", "gan (non_saturating loss) on ring8"),
    ("wgan_gp_ring8", "gan (wasserstein loss, wgan_gp penalty) on ring8"),
    ("wgan_ring8", "gan (wasserstein loss, weight clip 0.01) on ring8"),
    ("hinge_ring8", "gan (hinge loss, spectral_norm) on ring8"),
    ("pacgan_ring8", "gan (non_saturating loss, packing=2) on ring8"),
    ("cvae_digits", "vae (conditional, bernoulli reconstruction) on digits"),
    (
      "wae_digits",
      "wae (non_saturating loss, mmd penalty, squared_error reconstruction, gaussian prior) on "
      "digits",
    ),
  ],
)
def test_a_run_is_described_by_its_algorithm_objective_and_data(name, described):
  """What differs between two runs of one algorithm is named: loss, penalty, clip, stabilisers."""
  config = configs.load(name)
  assert plots.describe_run(config) == described
  assert plots.run_title(config, "workdirs/run_7") == f"run_7: {described}"


def _curve_records():
  """Losses every step; one evaluation at step 20 with a FID, a precision and a KID with spread."""
  records = [{"step": s, "generator/loss": 0.7 + 0.01 * s} for s in range(1, 21)]
  records.append({"step": 20, "eval/fid": 274.0, "eval/precision": 0.18})
  records[-1] |= {"eval/kid": 3.0, "eval/kid_std": 0.5}
  return records


def test_each_metric_has_its_own_panel_and_a_single_point_shows():
  """FID 274 and precision 0.18 on separate axes; the lone evaluation is a marker inside each
  panel's limits; `_std` draws as error bars, not as a panel; labels and the title are shown."""
  keys = ["eval/fid", "eval/kid", "eval/kid_std", "eval/precision"]
  labels = {"eval/fid": "eval/fid\ndigits_classifier (128-d features)"}
  fig = plots.curves_figure(_curve_records(), keys, "run_7: gan on digits\nevaluation", labels)
  panels = [ax for ax in fig.axes if ax.axison]
  assert [ax.get_title() for ax in panels] == [labels["eval/fid"], "eval/kid", "eval/precision"]
  assert fig.get_suptitle() == "run_7: gan on digits\nevaluation"
  for ax, value in zip(panels, (274.0, 3.0, 0.18), strict=True):
    (line,) = [line for line in ax.lines if line.get_marker() == "o"]  # not the error bars' caps
    assert list(line.get_xdata()) == [20] and line.get_markersize() >= 4
    assert ax.get_xlim()[0] < 20 < ax.get_xlim()[1] and ax.get_ylim()[0] < value < ax.get_ylim()[1]
  kid_bars = [c for c in panels[1].containers if c.has_yerr]
  assert len(kid_bars) == 1  # the spread of the KID
  plots.pyplot().close(fig)


def test_a_near_constant_metric_is_not_drawn_as_a_change():
  """An Inception Score of 1 +- 4e-6 gets a y range of at least 1e-3 of its size, no offset."""
  records = [
    {"step": 10, "eval/inception_score": 1.0},
    {"step": 20, "eval/inception_score": 1.000004},
  ]
  fig = plots.curves_figure(records, ["eval/inception_score"], "run")
  low, high = fig.axes[0].get_ylim()
  assert high - low >= 1e-3 and not fig.axes[0].yaxis.get_major_formatter().get_useOffset()
  plots.pyplot().close(fig)


def test_the_gaps_of_a_grid_show_on_white_images_and_its_rows_are_labelled(tmp_path, monkeypatch):
  """White (inverted) digits: the gaps are mid-grey in the array and coloured in the PNG; each
  row of a translation grid carries its label."""
  white = np.ones((6, 4, 4, 1))
  grid = plots.image_grid(white, 2)
  assert grid.shape == (3 * 5 + 1, 2 * 5 + 1, 1)
  assert grid[0, 0, 0] == grid[5, 3, 0] == plots.GAP and grid[1, 1, 0] == 1.0
  figures = []
  monkeypatch.setattr(plots, "save_figure", lambda fig, path: figures.append(fig))
  labels = ("a: input", "G(a): translated", "F(G(a)): reconstructed")
  plots.save_image_grid(white, tmp_path / "grid.png", 2, "run_7: cyclegan\nstep 4", labels)
  (ax,) = figures[0].axes
  assert [text.get_text() for text in ax.texts] == list(labels)
  shown = ax.images[0].get_array()
  np.testing.assert_allclose(shown[5, 3], plots.GAP_COLOUR)  # a gap between two rows
  np.testing.assert_allclose(shown[1, 1], [1.0, 1.0, 1.0])  # a white pixel stays white
  assert ax.get_title() == "run_7: cyclegan\nstep 4"
  plots.pyplot().close(figures[0])
