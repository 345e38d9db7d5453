"""The errors a user acts on. Each message says what was wrong and what to do; the command line
(`jaxgen.run.train.main`) prints it as the last line, without a traceback."""

from __future__ import annotations


class ConfigError(ValueError):
  """A config value is unknown, out of range or does not fit the rest of the config.

  The message names the dotted key, the value given and the valid choices or range.
  """


class CheckpointError(RuntimeError):
  """A checkpoint could not be written or no usable checkpoint could be read."""


class WorkdirInUseError(RuntimeError):
  """Another live process is training in this workdir; the message names it (pid, host, start)."""
