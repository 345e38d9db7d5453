"""What a run leaves for comparing it with others: TensorBoard gets the config (once) and each
evaluation's pictures beside the scalars; the log's first line and every picture's title name the
run, its algorithm and its objective. Events are read back from their TFRecord framing with
tensorboardX's own protos (no TensorFlow)."""

import json
import struct
from pathlib import Path

import numpy as np
from PIL import Image
from tensorboardX.proto import event_pb2
from test_train import tiny_ring_config

from jaxgen.run import plots, train
from jaxgen.run.metrics_log import MetricsLog


def _summaries(directory: Path) -> list[tuple]:
  """(step, tag, value) of every summary value in the event files of `directory`: TFRecord
  framing (u64 length, u32 crc, data, u32 crc) around `Event` protos."""
  found = []
  for path in sorted(directory.glob("events.out.tfevents.*")):
    content, offset = path.read_bytes(), 0
    while offset + 12 <= len(content):
      (length,) = struct.unpack("<Q", content[offset : offset + 8])
      event = event_pb2.Event()
      event.ParseFromString(content[offset + 12 : offset + 12 + length])
      found += [(event.step, value.tag, value) for value in event.summary.value]
      offset += 12 + length + 4
  return found


def _texts(directory: Path) -> list[tuple[int, str, str]]:
  """(step, tag, text) of the text summaries in `directory`."""
  return [
    (step, tag, value.tensor.string_val[0].decode())
    for step, tag, value in _summaries(directory)
    if tag.endswith("/text_summary")
  ]


def test_the_config_is_written_once_and_pictures_go_in_as_images(tmp_path):
  """A run from scratch writes config.json as text at step 0; a resumed one does not again; a
  PNG goes in with its size; a note written twice is kept once."""
  (tmp_path / "config.json").write_text(json.dumps({"algorithm": {"name": "gan"}, "seed": 3}))
  picture = tmp_path / "samples_0000003.png"
  Image.fromarray(np.full((20, 30, 3), 200, np.uint8)).save(picture)
  log = MetricsLog(tmp_path, 0)
  log.write_images(3, {"samples/images": picture})
  for _ in range(2):
    log.write_text("evaluation/features", "fid on digits_classifier (128-d features)", 3)
  log.close()
  MetricsLog(tmp_path, 3).close()  # resumed at step 3: no second config
  texts = _texts(tmp_path / "tensorboard")
  (config,) = [(step, text) for step, tag, text in texts if tag == "config/text_summary"]
  assert config[0] == 0 and json.loads(config[1]) == {"algorithm": {"name": "gan"}, "seed": 3}
  assert [t for t in texts if t[1] == "evaluation/features/text_summary"] == [
    (3, "evaluation/features/text_summary", "fid on digits_classifier (128-d features)")
  ]
  images = [(step, value.image) for step, tag, value in _summaries(tmp_path / "tensorboard")]
  (step, image), *others = [(s, i) for s, i in images if i.width]
  assert step == 3 and (image.width, image.height) == (30, 20) and not others


def test_a_run_names_itself_in_its_log_pictures_and_tensorboard(tmp_path, capfd, monkeypatch):
  """A WGAN-GP run: the log's first line and every figure's title say "wgan_gp"; TensorBoard has
  the evaluation's scatter plot as an image and the config as text."""
  config = tiny_ring_config(num_steps=2, eval_every=2, checkpoint_every=2)
  config.algorithm.loss = "wasserstein"
  config.algorithm.penalty = {"name": "wgan_gp", "weight": 10.0}
  titles = {}
  drawn = plots.save_figure

  def titled(fig, path):
    """Keeps the title of each figure (a figure's suptitle, else its axes') and saves it."""
    title = fig.get_suptitle() or fig.axes[0].get_title()
    titles[Path(path).name] = title
    drawn(fig, path)

  monkeypatch.setattr(plots, "save_figure", titled)
  workdir = tmp_path / "wgan_gp_7"
  train.train_and_evaluate(config, workdir)
  described = "gan (wasserstein loss, wgan_gp penalty) on ring8"
  first = capfd.readouterr().err.splitlines()[0]
  assert first == f"{described}, workdir {workdir}"
  assert sorted(titles) == ["eval_metrics.png", "losses.png", "samples_0000002.png"]
  assert all(title.startswith(f"wgan_gp_7: {described}\n") for title in titles.values())
  summaries = _summaries(workdir / "tensorboard")
  assert [(step, tag) for step, tag, value in summaries if value.image.width] == [
    (2, "samples/points")
  ]
  (config_text,) = [
    text for _, tag, text in _texts(workdir / "tensorboard") if tag == "config/text_summary"
  ]
  assert json.loads(config_text)["algorithm"]["penalty"]["name"] == "wgan_gp"
