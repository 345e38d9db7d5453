"""Your own images as a data set: `image_folder`, a folder of PNG and JPEG files read with Pillow.

    jaxgen-train --config=dcgan_digits --workdir=runs/mine \
      --config.data.name=image_folder --config.data.options.path=/data/my_images

Which files: every file under `path` (sub-folders included, symbolic links followed) whose name
ends in .png, .jpg or .jpeg (any case). Files and folders whose names start with "." are skipped
(the cache lives in one); any other file is refused, so nothing in the folder is left out unseen.
They are read in the sorted order of their paths relative to `path`.

Pixels: each image is turned upright by its EXIF orientation, converted to grayscale ("L", ITU-R
601-2 luma) or RGB by `channels` (alpha is dropped, palette images take their colours), cropped by
`crop` ("center": the central square of side min(H, W); "none": kept whole), resized by `size` to
size x size with Pillow's antialiased bicubic filter (skipped when it is that size already; with
crop "none" a non-square image is stretched), stored as uint8 and served as float32 [-1, 1]
(v / 127.5 - 1), NHWC, like every jaxgen image data set. `channels` None takes the first image's:
1 for a grayscale image, 3 otherwise; then every image must be of that kind, or the error asks for
`channels`. Without `size` every image must have the same size (after the crop). Images of 16-bit
or float pixels are refused.

Labels: `labels="folders"`: the class of an image is the sub-folder of `path` it lies in (at any
depth below it), class ids in the sorted order of the sub-folders' names (`class_names`); an image
lying directly in `path` is an error. "none": unlabelled. "auto": "folders" when every image lies
in a sub-folder and there are at least two of them (one class carries no information), else
"none".

Cache: the first construction decodes every image once into a uint8 array file
`<cache folder>/image_folder-<key>.npy` (written image by image beside its final name and renamed
into place when complete, so neither memory nor a kill limits it); later constructions, and
every process of a run, memory-map it (`np.load(mmap_mode="r")`), so a folder larger than memory
still trains and a batch reads only its own rows. The key hashes the folder's absolute path, every
file's relative path, size and modification time, and the pixel options (size, channels, crop), so
any change to the images or those options decodes again; `labels` and `held_out` do not touch the
cache. The cache folder is `cache_dir` if given, else $JAXGEN_CACHE if set, else
`<path>/.jaxgen_cache`; set one of the first two when the image folder is read-only. Old cache
files are not deleted: remove the folder to reclaim the space.

Held-out split and batches: as for `jaxgen.data.arrays` (`StoredArrays`): a fixed share `held_out`
of the images is kept for `eval_data`, and the batch of step t is a pure function of (seed, t).

Why not Grain or TFDS's ImageFolder: TFDS's `tfds.folder_dataset.ImageFolder` builds a tf.data
pipeline (it needs TensorFlow, which jaxgen does not use even to read TFDS data) over a
`root/split/label/` layout and decodes every image in every epoch. Grain (`grain` 0.2.18 installs
from PyPI) is a loader: it still needs this module's folder scan, decoding and checks as a random
access source, and its index sampler and worker processes duplicate `jaxgen.data.base`'s
(seed, step) stream, which every jaxgen data set shares and resumes rely on. With the images
decoded once into a memory-mapped array a batch is a gather of rows, so workers gain nothing; no
dependency was added.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from jaxgen.data.arrays import (
  DEFAULT_HELD_OUT,
  StoredArrays,
  check_held_out,
  check_path,
  num_held_out,
)
from jaxgen.data.base import declare
from jaxgen.errors import ConfigError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CHANNELS = (1, 3)
CROPS = ("none", "center")
LABELS = ("auto", "folders", "none")
CACHE_ENV = "JAXGEN_CACHE"
DEFAULT_CACHE_FOLDER = ".jaxgen_cache"
CACHE_VERSION = 1  # part of the key: a change of the decoding rules must decode again
# Pillow's mode per channel count, and the stored modes that are grayscale (one channel).
_MODES = {1: "L", 3: "RGB"}
_GRAYSCALE_MODES = ("1", "L", "LA", "La")
# EXIF orientation (tag 0x0112) values 5..8 turn the image by 90 degrees: height and width swap.
_ORIENTATION_TAG = 0x0112
_SWAPPING_ORIENTATIONS = (5, 6, 7, 8)
# What Pillow raises for a file it cannot read or decode.
_UNREADABLE = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


@dataclasses.dataclass(frozen=True, eq=False)  # eq=False: `labels` is an array
class Listing:
  """The folder's images and what the options make of them, read without decoding pixels.

  Attributes:
    root: the folder.
    files: paths relative to `root`, sorted.
    class_names: the label of class i is `class_names[i]`; empty when unlabelled.
    labels: int32 [N] class ids (zeros when unlabelled).
    example_shape: (H, W, C) of every decoded image.
    channels_inferred: whether C was taken from the first image (then all must match it).
    crop, size: the options.
  """

  root: Path
  files: tuple[str, ...]
  class_names: tuple[str, ...]
  labels: np.ndarray
  example_shape: tuple[int, int, int]
  channels_inferred: bool
  crop: str
  size: int | None


def _check_options(size, channels, crop, labels, cache_dir) -> None:
  if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
    raise ConfigError(
      f"data.options.size = {size!r} must be a whole number of pixels >= 1 (images are resized "
      "to size x size), or None to keep the images' own size."
    )
  if channels is not None and (type(channels) is not int or channels not in CHANNELS):
    raise ConfigError(
      f"data.options.channels = {channels!r} must be 1 (grayscale), 3 (RGB) or None (as the "
      "first image)."
    )
  if crop not in CROPS:
    raise ConfigError(f"data.options.crop = {crop!r} is not one of {CROPS}; choose one of them.")
  if labels not in LABELS:
    raise ConfigError(
      f"data.options.labels = {labels!r} is not one of {LABELS}; choose one of them."
    )
  if cache_dir is not None and not (isinstance(cache_dir, str | os.PathLike) and str(cache_dir)):
    raise ConfigError(
      f"data.options.cache_dir = {cache_dir!r} must be a folder's path, or None for "
      f"${CACHE_ENV} or <path>/{DEFAULT_CACHE_FOLDER}."
    )


def cache_folder(root: Path, cache_dir) -> Path:
  """Where the decoded images of `root` are cached: `cache_dir`, else $JAXGEN_CACHE, else
  `root/.jaxgen_cache`."""
  chosen = cache_dir if cache_dir is not None else os.environ.get(CACHE_ENV) or None
  return Path(chosen).expanduser() if chosen else root / DEFAULT_CACHE_FOLDER


def _check_root(path) -> Path:
  root = check_path(path, "the folder of your PNG/JPEG images")
  if not root.exists():
    raise ConfigError(
      f"data.options.path = {str(root)!r} does not exist; give your images' folder."
    )
  if not root.is_dir():
    raise ConfigError(
      f"data.options.path = {str(root)!r} is a file, not a folder; give the folder that holds "
      "your images."
    )
  return root


def list_images(root: Path, skip: Path) -> tuple[str, ...]:
  """The PNG/JPEG files under `root` as sorted POSIX paths relative to it; hidden entries and the
  folder `skip` (the cache) are passed over, any other file is an error."""
  skip = skip.resolve()

  def unlistable(error: OSError):
    raise ConfigError(
      f"Cannot list {error.filename} under data.options.path ({error.strerror}); make it "
      "readable or move it out of the folder."
    )

  images, others = [], []
  for directory, folders, names in os.walk(root, onerror=unlistable, followlinks=True):
    here = Path(directory)
    folders[:] = [f for f in folders if not f.startswith(".") and (here / f).resolve() != skip]
    for name in names:
      if name.startswith("."):
        continue
      relative = (here / name).relative_to(root).as_posix()
      (images if name.lower().endswith(IMAGE_SUFFIXES) else others).append(relative)
  if others:
    raise ConfigError(
      f"{len(others)} file(s) under {root} are not PNG/JPEG images (e.g. {sorted(others)[0]!r}); "
      "move them out of the folder (names starting with '.' are skipped)."
    )
  if not images:
    raise ConfigError(
      f"No PNG/JPEG images under data.options.path = {str(root)!r} (files ending in "
      f"{', '.join(IMAGE_SUFFIXES)}; names starting with '.' are skipped); put your images there."
    )
  return tuple(sorted(images))


def _classes(root: Path, files: tuple[str, ...], labels: str) -> tuple[str, ...]:
  """The class names by the `labels` rule (see the module docstring); () when unlabelled."""
  if labels == "none":
    return ()
  loose = [file for file in files if "/" not in file]
  if loose:
    if labels == "folders":
      raise ConfigError(
        f"data.options.labels = 'folders' needs every image in a class sub-folder of {root}, but "
        f"{loose[0]!r} lies directly in it; move the images into one sub-folder per class or set "
        "labels='none'."
      )
    return ()
  names = tuple(sorted({file.split("/", 1)[0] for file in files}))
  return () if labels == "auto" and len(names) < 2 else names


class PixelDepthError(ValueError):
  """An image whose pixels are not 8 bits per channel (Pillow modes "I;16", "I", "F")."""


def _unreadable(root: Path, relative: str, error: BaseException) -> ConfigError:
  if isinstance(error, PixelDepthError):
    return ConfigError(
      f"The image {relative!r} under {root} has 16-bit, 32-bit or float pixels (Pillow mode "
      f"{error}); save it with 8 bits per channel."
    )
  return ConfigError(
    f"Cannot read the image {relative!r} under {root} ({type(error).__name__}: {error}); "
    "replace or remove the file."
  )


def channels_of_mode(mode: str) -> int:
  """1 for a grayscale Pillow mode, 3 for any other (colour, palette)."""
  return 1 if mode in _GRAYSCALE_MODES else 3


def _check_depth(mode: str) -> None:
  # Converting them to "L" or "RGB" would clip values above 255.
  if mode.startswith(("I", "F")):  # "I;16", "I", "F": Pillow's 16-bit, 32-bit and float pixels
    raise PixelDepthError(repr(mode))


def _header(root: Path, relative: str) -> tuple[int, int, str]:
  """(height, width, mode) of one image upright, from its header (no pixels decoded)."""
  try:
    with Image.open(root / relative) as image:
      _check_depth(image.mode)
      width, height = image.size
      if image.getexif().get(_ORIENTATION_TAG, 1) in _SWAPPING_ORIENTATIONS:
        width, height = height, width
      return height, width, image.mode
  except _UNREADABLE as error:
    raise _unreadable(root, relative, error) from None


def scan(path, size=None, channels=None, crop="none", labels="auto", cache_dir=None) -> Listing:
  """The folder's `Listing` by the options (see `image_folder`): its file list and the first
  image's header; no pixels are decoded."""
  _check_options(size, channels, crop, labels, cache_dir)
  root = _check_root(path)
  files = list_images(root, skip=cache_folder(root, cache_dir))
  class_names = _classes(root, files, labels)
  if class_names:
    ids = {name: index for index, name in enumerate(class_names)}
    label_ids = np.array([ids[file.split("/", 1)[0]] for file in files], np.int32)
  else:
    label_ids = np.zeros(len(files), np.int32)
  height, width, mode = _header(root, files[0])
  if crop == "center":
    height = width = min(height, width)
  if size is not None:
    height = width = size
  resolved = channels_of_mode(mode) if channels is None else channels
  return Listing(
    root=root,
    files=files,
    class_names=class_names,
    labels=label_ids,
    example_shape=(height, width, resolved),
    channels_inferred=channels is None,
    crop=crop,
    size=size,
  )


def decode(file: Path, channels: int, crop: str, size: int | None) -> tuple[np.ndarray, int]:
  """(uint8 [H, W, channels] pixels of the image `file` by the options, the channels it is
  stored with). Raises Pillow's errors, or `PixelDepthError`, for a file it cannot read."""
  with Image.open(file) as image:
    _check_depth(image.mode)
    stored_channels = channels_of_mode(image.mode)
    upright = ImageOps.exif_transpose(image).convert(_MODES[channels])
  if crop == "center":
    side = min(upright.size)
    left, top = (upright.width - side) // 2, (upright.height - side) // 2
    upright = upright.crop((left, top, left + side, top + side))
  if size is not None and upright.size != (size, size):
    upright = upright.resize((size, size), Image.Resampling.BICUBIC)
  pixels = np.asarray(upright, dtype=np.uint8)
  return pixels.reshape(*pixels.shape[:2], channels), stored_channels


def _decoded(listing: Listing, relative: str) -> np.ndarray:
  """One image's pixels, checked against the listing's shape and (inferred) channels."""
  height, width, channels = listing.example_shape
  try:
    pixels, stored_channels = decode(listing.root / relative, channels, listing.crop, listing.size)
  except _UNREADABLE as error:
    raise _unreadable(listing.root, relative, error) from None
  first = listing.files[0]
  if listing.channels_inferred and stored_channels != channels:
    kinds = {1: "grayscale", 3: "colour"}
    raise ConfigError(
      f"{relative!r} is {kinds[stored_channels]} but the first image {first!r} is "
      f"{kinds[channels]}; set data.options.channels to 1 or 3 to convert every image to it."
    )
  if pixels.shape[:2] != (height, width):
    after = " after the centre crop" if listing.crop == "center" else ""
    raise ConfigError(
      f"Images differ in size{after}: {first!r} is {height}x{width} (height x width) but "
      f"{relative!r} is {pixels.shape[0]}x{pixels.shape[1]}; set data.options.size to resize "
      "every image to size x size."
    )
  return pixels


def cache_key(listing: Listing) -> str:
  """A hash of what the decoded pixels depend on: the files (paths, sizes, modification times),
  the folder and the pixel options."""
  files = []
  for relative in listing.files:
    stat = (listing.root / relative).stat()
    files.append([relative, stat.st_size, stat.st_mtime_ns])
  described = {
    "version": CACHE_VERSION,
    "root": str(listing.root.resolve()),
    "files": files,
    "shape": listing.example_shape,
    "crop": listing.crop,
    "size": listing.size,
  }
  return hashlib.sha256(json.dumps(described).encode()).hexdigest()[:24]


def _write_cache(listing: Listing, target: Path) -> None:
  """Decodes every image into the .npy file `target`, image by image, through a temporary file
  renamed into place when complete (a kill leaves no torn cache)."""
  shape = (len(listing.files), *listing.example_shape)
  try:
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(
      prefix=f".{target.name}.", suffix=".partial", dir=target.parent
    )
  except OSError as error:
    raise _unwritable(target, error) from None
  partial = Path(name)
  try:
    # Plain writes, not a memmap: a full disk then raises an OSError instead of a SIGBUS.
    with os.fdopen(descriptor, "wb") as stream:
      header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "shape": shape}
      np.lib.format.write_array_header_1_0(stream, {**header, "fortran_order": False})
      for relative in listing.files:
        pixels = _decoded(listing, relative)
        try:
          stream.write(pixels.tobytes())
        except OSError as error:
          raise _unwritable(target, error) from None
      try:
        stream.flush()
        os.fsync(stream.fileno())
      except OSError as error:
        raise _unwritable(target, error) from None
    os.replace(partial, target)
  finally:
    partial.unlink(missing_ok=True)


def _unwritable(target: Path, error: OSError) -> ConfigError:
  return ConfigError(
    f"Cannot write the decoded images' cache {target} ({error.strerror or error}); set "
    f"data.options.cache_dir (or ${CACHE_ENV}) to a writable folder with room for it."
  )


def cached_pixels(listing: Listing, cache_dir=None) -> np.ndarray:
  """The uint8 [N, H, W, C] pixels of every image in `listing`, memory-mapped from the cache;
  decoded and written there first when the cache lacks them."""
  target = cache_folder(listing.root, cache_dir) / f"image_folder-{cache_key(listing)}.npy"
  if not target.is_file():
    _write_cache(listing, target)
  expected = (len(listing.files), *listing.example_shape)
  try:
    pixels = np.load(target, mmap_mode="r", allow_pickle=False)
  except (OSError, ValueError) as error:
    raise ConfigError(f"The image cache {target} is unreadable ({error}); delete it.") from None
  if pixels.shape != expected or pixels.dtype != np.uint8:
    raise ConfigError(
      f"The image cache {target} holds {pixels.dtype} {pixels.shape}, not uint8 {expected}; "
      "delete it."
    )
  return pixels


def _facts(
  path=inspect.Parameter.empty,
  size=None,
  channels=None,
  crop="none",
  labels="auto",
  held_out=DEFAULT_HELD_OUT,
  cache_dir=None,
):
  """(example_shape, num_classes) from the file list and the first image's header."""
  listing = scan(path, size, channels, crop, labels, cache_dir)
  num_held_out(len(listing.files), check_held_out(held_out), str(listing.root))
  return listing.example_shape, len(listing.class_names)


class ImageFolder(StoredArrays):
  """The images of a folder, decoded once into a memory-mapped cache (see the module docstring).

  Attributes (besides the data set's): `root`, `files` (relative paths, in the cache's order),
  `class_names` (label i is `class_names[i]`; empty when unlabelled).
  """

  def __init__(self, listing: Listing, pixels: np.ndarray, num_held: int):
    num_classes = len(listing.class_names)
    super().__init__("image_folder", pixels, listing.labels, num_classes, num_held)
    self.root, self.files, self.class_names = listing.root, listing.files, listing.class_names


@declare(facts=_facts)
def image_folder(
  path: str,
  size: int | None = None,
  channels: int | None = None,
  crop: str = "none",
  labels: str = "auto",
  held_out: float = DEFAULT_HELD_OUT,
  cache_dir: str | None = None,
) -> ImageFolder:
  """Your own PNG/JPEG images from a folder (class sub-folders become labels), decoded once into a
  memory-mapped cache."""
  listing = scan(path, size, channels, crop, labels, cache_dir)
  num_held = num_held_out(len(listing.files), check_held_out(held_out), str(listing.root))
  return ImageFolder(listing, cached_pixels(listing, cache_dir), num_held)
