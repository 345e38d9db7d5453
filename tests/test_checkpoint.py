"""Checkpoints survive kills, bad values, full disks and flipped bits: config.json is written
atomically and once; every checkpoint carries a digest; restore_latest sets aside what does not
read or match and falls back; a failed save is one short `CheckpointError`, raised at once."""

import json
import logging
import os
import shutil
from pathlib import Path

import hang_guard
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
import tiny_ring8_config

from jaxgen.errors import CheckpointError, ConfigError
from jaxgen.run import checkpoint

LOGGER = "jaxgen.run.checkpoint"


def _state(seed: int, size: int = 65_536):
  """A small train-state-like tree: a scalar step, a typed PRNG key, ints and random floats (the
  floats make the largest data file, and zstd cannot shrink them, so a flipped byte there changes
  a value instead of breaking the decompression)."""
  rng = np.random.default_rng(seed)
  return {
    "step": jnp.int32(seed),
    "rng": jax.random.key(seed),
    "params": {
      "w": jnp.asarray(rng.normal(size=size).astype(np.float32)),
      "b": jnp.arange(7, dtype=jnp.int32) + seed,
    },
  }


def _host(tree):
  def one(x):
    is_key = jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
    return str(x.dtype), np.asarray(jax.random.key_data(x) if is_key else x)

  return [one(x) for x in jax.tree.leaves(tree)]


def _assert_same(a, b):
  for (dtype_a, x), (dtype_b, y) in zip(_host(a), _host(b), strict=True):
    assert dtype_a == dtype_b
    np.testing.assert_array_equal(x, y)


def _largest_data_file(folder: Path) -> Path:
  files = [p for p in (folder / "state").rglob("*") if p.is_file()]
  return max(files, key=lambda p: p.stat().st_size)


def _flip_a_bit(path: Path) -> None:
  with path.open("r+b") as f:
    f.seek(path.stat().st_size // 2)
    byte = f.read(1)[0]
    f.seek(-1, os.SEEK_CUR)
    f.write(bytes([byte ^ 0x10]))


@pytest.fixture
def saved(tmp_path):
  """A workdir with checkpoints 10, 20, 30 (keep=3); returns (workdir, {step: state})."""
  states = {step: _state(step) for step in (10, 20, 30)}
  checkpointer = checkpoint.Checkpointer(tmp_path, keep=3)
  for step, state in states.items():
    checkpointer.save(step, state)
  checkpointer.close()
  return tmp_path, states


def _warnings(caplog):
  return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelname == "WARNING"]


# --- config.json ---------------------------------------------------------------------------------


def test_config_json_is_written_once_and_an_unchanged_config_does_not_touch_it(tmp_path):
  config = json.dumps({"seed": 0, "num_steps": 10, "model": {"size": 3}})
  checkpoint.check_config_matches(tmp_path, config)
  path = tmp_path / "config.json"
  os.utime(path, ns=(0, 0))  # a rewrite, however soon, would show as a new st_mtime_ns
  before = path.stat()
  checkpoint.check_config_matches(tmp_path, config)
  after = path.stat()
  assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
  assert path.read_text() == config
  longer = json.dumps({"seed": 0, "num_steps": 20, "model": {"size": 3}})
  checkpoint.check_config_matches(tmp_path, longer)  # a resumable key: recorded
  assert path.read_text() == longer
  assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temporary files left


def test_an_empty_config_json_counts_as_absent_and_is_rewritten_with_a_warning(tmp_path, caplog):
  path = tmp_path / "config.json"
  path.write_bytes(b"")  # what a kill at start-up left before writes were atomic
  config = json.dumps({"seed": 0, "num_steps": 10})
  with caplog.at_level(logging.WARNING, logger=LOGGER):
    checkpoint.check_config_matches(tmp_path, config)
  assert path.read_text() == config
  assert _warnings(caplog) == [
    f"{path} is empty (left by an interrupted start); recording the current config."
  ]


@pytest.mark.parametrize("content", [b'{"seed": 0, "num_st', b"\xff\xfe garbage", b"[1, 2]"])
def test_a_damaged_config_json_is_an_error_naming_the_file_and_the_fix(tmp_path, content):
  path = tmp_path / "config.json"
  path.write_bytes(content)
  with pytest.raises(ConfigError) as error:
    checkpoint.check_config_matches(tmp_path, json.dumps({"seed": 0}))
  message = str(error.value)
  assert message.startswith(f"{path} is ")
  assert "Delete config.json to record the current config (the checkpoints are kept)" in message
  assert "\n" not in message
  assert path.read_bytes() == content  # left as it was, for the user to look at


def test_a_different_config_is_still_refused(tmp_path):
  checkpoint.check_config_matches(tmp_path, json.dumps({"seed": 0, "model": {"size": 3}}))
  with pytest.raises(ConfigError, match=r"different config \(model.size: 3 -> 4\)"):
    checkpoint.check_config_matches(tmp_path, json.dumps({"seed": 0, "model": {"size": 4}}))


def test_what_an_evaluation_measures_may_change_on_resume(tmp_path):
  """eval.* keys are not the experiment: a run recorded with other evaluators resumes, and the
  new values are recorded."""
  old = {"seed": 0, "eval": {"extractor": "", "evaluators": ["images"]}}
  new = {"seed": 0, "eval": {"extractor": "digits_classifier", "evaluators": []}}
  checkpoint.check_config_matches(tmp_path, json.dumps(old))
  checkpoint.check_config_matches(tmp_path, json.dumps(new))
  assert json.loads((tmp_path / "config.json").read_text())["eval"] == new["eval"]
  with pytest.raises(ConfigError, match=r"different config \(seed: 0 -> 1\)"):
    checkpoint.check_config_matches(tmp_path, json.dumps({**new, "seed": 1}))


# --- digests and round trips ---------------------------------------------------------------------


def test_a_train_state_round_trips_exactly_with_its_digest(tmp_path, setup_algorithm):
  _, state, _ = setup_algorithm(tiny_ring8_config.get_config())
  checkpointer = checkpoint.Checkpointer(tmp_path, keep=2)
  checkpointer.save(5, state)
  checkpointer.wait()
  stored = json.loads((tmp_path / "checkpoints" / "5" / "digest" / "metadata").read_text())
  assert stored == checkpoint.state_digest(state)
  # Key paths name the leaves; the typed PRNG key is hashed as its key data.
  assert [".rng", "key<fry>", [2]] in stored["leaves"]
  assert any(name.startswith(".players['generator'].params") for name, _, _ in stored["leaves"])
  fresh = jax.tree.map(jnp.zeros_like, state)
  result = checkpointer.restore_latest(fresh)
  assert (result.step, result.set_aside) == (5, [])
  _assert_same(result.state, state)
  _assert_same(checkpointer.restore(fresh, 5), state)
  checkpointer.close()


def test_the_digest_covers_bytes_dtype_shape_and_structure():
  base = checkpoint.state_digest(_state(1))["sha256"]
  assert checkpoint.state_digest(_state(1))["sha256"] == base
  changed = _state(1)
  changed["params"]["w"] = changed["params"]["w"].at[123].add(1e-6)
  assert checkpoint.state_digest(changed)["sha256"] != base
  retyped = {**_state(1), "step": jnp.uint32(1)}  # same bytes, other dtype
  assert checkpoint.state_digest(retyped)["sha256"] != base
  renamed = {**_state(1)}
  renamed["params"] = {"w2": renamed["params"]["w"], "b": renamed["params"]["b"]}
  assert checkpoint.state_digest(renamed)["sha256"] != base


def test_an_empty_workdir_restores_nothing(tmp_path):
  checkpointer = checkpoint.Checkpointer(tmp_path, keep=3)
  assert checkpointer.latest_step() is None
  assert checkpointer.restore_latest(_state(0)) == (None, None, [])
  with pytest.raises(CheckpointError, match="No checkpoint in "):
    checkpointer.restore(_state(0))
  checkpointer.close()


# --- verified restore with fallback --------------------------------------------------------------


def test_a_flipped_bit_in_the_newest_checkpoint_falls_back_to_the_previous_one(saved, caplog):
  workdir, states = saved
  _flip_a_bit(_largest_data_file(workdir / "checkpoints" / "30"))
  checkpointer = checkpoint.Checkpointer(workdir, keep=3)
  with caplog.at_level(logging.WARNING, logger=LOGGER):
    result = checkpointer.restore_latest(_state(0))
  corrupt = workdir / "checkpoints_corrupt" / "30"
  # orbax reads the flipped data without complaint: only the digest notices.
  reason = "does not match its digest (its data changed after it was written)"
  assert result.set_aside == [(30, reason, corrupt)]
  assert result.step == 20
  _assert_same(result.state, states[20])
  assert corrupt.is_dir() and not (workdir / "checkpoints" / "30").exists()
  assert (workdir / "checkpoints_corrupt" / "30.txt").read_text() == f"checkpoint 30 {reason}\n"
  assert _warnings(caplog) == [
    f"Checkpoint 30 {reason}; moved it to {corrupt} and trying an older one."
  ]
  assert checkpointer.latest_step() == 20
  checkpointer.close()


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_an_unreadable_newest_checkpoint_falls_back_quietly(saved, damage, caplog, capfd):
  workdir, states = saved
  data_file = _largest_data_file(workdir / "checkpoints" / "30")
  if damage == "truncate":
    os.truncate(data_file, data_file.stat().st_size // 2)
  else:
    data_file.unlink()
  checkpointer = checkpoint.Checkpointer(workdir, keep=3)
  with caplog.at_level(logging.WARNING):
    result = checkpointer.restore_latest(_state(0))
  assert result.step == 20
  _assert_same(result.state, states[20])
  [(step, reason, where)] = result.set_aside
  assert (step, where) == (30, workdir / "checkpoints_corrupt" / "30")
  assert reason.startswith("cannot be read (its files: ") and "\n" not in reason
  checkpointer.close()
  # One warning line; orbax's tracebacks and "Exception ignored" reports stay off stderr.
  assert [r.name for r in caplog.records if r.levelno >= logging.WARNING] == [LOGGER]
  assert capfd.readouterr().err == ""


def _rewrite_the_digest(stored, states):
  stored["sha256"] = checkpoint.state_digest(states[20])["sha256"]  # well-formed, wrong


def _damage_the_leaf_list(stored, states):
  stored["leaves"][0][2] = [9]  # a flipped shape digit: not another model, a damaged record


@pytest.mark.parametrize(
  "damage, reason",
  [
    # caught although the data itself reads: the digest check works on its own
    (_rewrite_the_digest, "does not match its digest (its data changed after it was written)"),
    # told apart from a checkpoint of a different model
    (
      _damage_the_leaf_list,
      "its digest record is damaged (the leaf list does not match its checksum)",
    ),
  ],
)
def test_a_wrong_digest_record_sets_the_step_aside(saved, damage, reason):
  workdir, states = saved
  digest_file = workdir / "checkpoints" / "30" / "digest" / "metadata"
  stored = json.loads(digest_file.read_text())
  damage(stored, states)
  digest_file.write_text(json.dumps(stored))
  checkpointer = checkpoint.Checkpointer(workdir, keep=3)
  result = checkpointer.restore_latest(_state(0))
  assert result.step == 20
  assert result.set_aside[0][:2] == (30, reason)
  checkpointer.close()


def test_when_every_checkpoint_is_bad_the_error_names_them_and_where_they_went(saved):
  workdir, _ = saved
  for step in (10, 20, 30):
    _flip_a_bit(_largest_data_file(workdir / "checkpoints" / str(step)))
  checkpointer = checkpoint.Checkpointer(workdir, keep=3)
  with pytest.raises(CheckpointError) as error:
    checkpointer.restore_latest(_state(0))
  message = str(error.value)
  corrupt = workdir / "checkpoints_corrupt"
  for step in (30, 20, 10):
    assert f"step {step} does not match its digest" in message
    assert f"(moved to {corrupt / str(step)})" in message
  assert message.index("step 30") < message.index("step 20") < message.index("step 10")
  assert message.endswith(
    f"Start a new --workdir, or repair or restore those folders and move them back to "
    f"{workdir / 'checkpoints'}."
  )
  assert checkpointer.latest_step() is None
  assert sorted(p.name for p in corrupt.iterdir() if p.is_dir()) == ["10", "20", "30"]
  checkpointer.close()


def test_after_a_fallback_new_saves_work_and_a_second_bad_step_gets_a_suffix(saved):
  workdir, states = saved
  _flip_a_bit(_largest_data_file(workdir / "checkpoints" / "30"))
  checkpointer = checkpoint.Checkpointer(workdir, keep=3)
  assert checkpointer.restore_latest(_state(0)).step == 20
  checkpointer.save(30, _state(31))  # the resumed run reaches step 30 again
  checkpointer.save(40, _state(40))
  checkpointer.wait()
  assert checkpointer.latest_step() == 40
  assert sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit()) == [
    20,
    30,
    40,
  ]
  _flip_a_bit(_largest_data_file(workdir / "checkpoints" / "40"))
  _flip_a_bit(_largest_data_file(workdir / "checkpoints" / "30"))
  reopened = checkpoint.Checkpointer(workdir, keep=3)
  result = reopened.restore_latest(_state(0))
  assert result.step == 20
  _assert_same(result.state, states[20])
  corrupt = workdir / "checkpoints_corrupt"
  assert [(s, where) for s, _, where in result.set_aside] == [
    (40, corrupt / "40"),
    (30, corrupt / "30.1"),  # checkpoints_corrupt/30 holds the first bad step 30
  ]
  reopened.save(50, _state(50))
  reopened.wait()
  assert reopened.latest_step() == 50
  _assert_same(reopened.restore_latest(_state(0)).state, _state(50))
  checkpointer.close()
  reopened.close()


def test_an_explicit_restore_verifies_and_moves_nothing(saved):
  workdir, states = saved
  _flip_a_bit(_largest_data_file(workdir / "checkpoints" / "30"))
  checkpointer = checkpoint.Checkpointer(workdir, keep=3)
  for step in (30, None):  # None: the latest
    with pytest.raises(CheckpointError) as error:
      checkpointer.restore(_state(0), step)
    assert str(error.value) == (
      f"Checkpoint 30 in {workdir / 'checkpoints'} does not match its digest (its data changed "
      "after it was written). Restore another step, or repair or restore that folder."
    )
  assert (workdir / "checkpoints" / "30").is_dir()
  assert not (workdir / "checkpoints_corrupt").exists()
  _assert_same(checkpointer.restore(_state(0), 20), states[20])
  with pytest.raises(CheckpointError, match=r"No checkpoint of step 25 .*available: 10, 20, 30"):
    checkpointer.restore(_state(0), 25)
  checkpointer.close()


def test_a_checkpoint_of_a_different_model_is_refused_and_not_moved(saved):
  workdir, _ = saved
  checkpointer = checkpoint.Checkpointer(workdir, keep=3)
  with pytest.raises(CheckpointError) as error:
    checkpointer.restore_latest(_state(0, size=100))
  assert str(error.value) == (
    f"Checkpoint 30 in {workdir / 'checkpoints'} was written for a different model "
    "(['params']['w']: float32[65536] -> float32[100]). Use a new --workdir, or the code and "
    "config that wrote it."
  )
  assert checkpointer.latest_step() == 30
  assert not (workdir / "checkpoints_corrupt").exists()
  checkpointer.close()


def test_a_checkpoint_from_before_digests_restores_unverified(tmp_path, caplog):
  state = _state(7)
  legacy = ocp.CheckpointManager(  # how jaxgen saved before digests: one unnamed item
    tmp_path / "checkpoints", options=ocp.CheckpointManagerOptions(max_to_keep=3, create=True)
  )
  legacy.save(7, args=ocp.args.StandardSave(state))
  legacy.close()
  checkpointer = checkpoint.Checkpointer(tmp_path, keep=3)
  with caplog.at_level(logging.WARNING, logger=LOGGER):
    result = checkpointer.restore_latest(_state(0))
  assert (result.step, result.set_aside) == (7, [])
  _assert_same(result.state, state)
  assert _warnings(caplog) == [
    "Checkpoint 7 was restored unverified (no digest): it was written by a jaxgen version before "
    "digests."
  ]
  checkpointer.save(8, _state(8))  # the resumed run writes digests from now on
  checkpointer.wait()
  assert checkpointer.latest_step() == 8
  assert (tmp_path / "checkpoints" / "8" / "digest").is_dir()
  checkpointer.close()


# --- a full disk ---------------------------------------------------------------------------------


def _fill(disk: Path, leave: int) -> Path:
  """Fills `disk` up to `leave` free bytes."""
  info = os.statvfs(disk)
  filler = disk / "filler"
  with filler.open("wb") as f:
    f.write(b"\0" * max(0, info.f_bavail * info.f_frsize - leave))
  return filler


@pytest.mark.parametrize("leave", [50_000, 0])  # room for the metadata but not the data; none
@pytest.mark.parametrize("detector", ["check_for_errors", "wait"])
def test_a_full_disk_is_one_short_error_at_once_and_the_previous_checkpoint_survives(
  small_disk, detector, leave, caplog, capfd
):
  workdir = small_disk / "run"
  states = {10: _state(10), 20: _state(20)}  # 256 KiB of floats each
  # keep=1: orbax would delete step 10 once step 20 commits, so this is where it could go wrong.
  checkpointer = checkpoint.Checkpointer(workdir, keep=1)
  checkpointer.save(10, states[10])
  checkpointer.wait()
  filler = _fill(small_disk, leave)
  with caplog.at_level(logging.DEBUG, logger=LOGGER), pytest.raises(CheckpointError) as error:
    checkpointer.save(20, states[20])  # with no space at all, even the blocking part may fail
    if detector == "wait":
      checkpointer.wait()
    # Once the background save has ended, the loop's next per-step poll reports its failure:
    # no further save is needed.
    hang_guard.wait_until(
      lambda: not checkpointer.manager.is_saving_in_progress(), "the save of checkpoint 20"
    )
    checkpointer.check_for_errors()
  message = str(error.value)
  assert message == (
    f"No space left on device while writing checkpoint 20 to {workdir / 'checkpoints'}; "
    "checkpoint 10 is intact. To go on, free disk space (or lower keep_checkpoints) and run the "
    "same command again."
  )
  assert len(message) < 400 and "\n" not in message
  assert error.value.__cause__ is not None  # orbax's exception, for whoever wants the details
  checkpointer.wait()  # raised once: the loop's `finally: wait(); close()` adds nothing
  checkpointer.check_for_errors()
  assert checkpointer.latest_step() == 10
  assert sorted(p.name for p in (workdir / "checkpoints").iterdir() if p.name.isdigit()) == ["10"]
  result = checkpointer.restore_latest(_state(0))
  assert (result.step, result.set_aside) == (10, [])
  _assert_same(result.state, states[10])
  # Orbax's tracebacks went to DEBUG, not to stderr. (Its ERROR records would be in caplog.)
  assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
  assert any(r.levelno == logging.DEBUG and "orbax" in r.getMessage() for r in caplog.records)
  assert capfd.readouterr().err == ""
  filler.unlink()  # space freed: the run goes on
  checkpointer.save(30, _state(30))
  checkpointer.close()
  reopened = checkpoint.Checkpointer(workdir, keep=1)
  assert reopened.latest_step() == 30
  _assert_same(reopened.restore_latest(_state(0)).state, _state(30))
  reopened.close()
  shutil.rmtree(workdir)  # before the fixture unmounts the disk
