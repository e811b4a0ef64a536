"""Reads MNIST's IDX files (gzip-compressed or raw) into numpy arrays.

IDX is the format LeCun's MNIST files use: a 4-byte big-endian magic number
(two zero bytes, a type code, the number of dimensions), one big-endian uint32
per dimension, then the values in C order. MNIST only uses unsigned bytes:
labels are 0x00000801 ([N]) and images 0x00000803 ([N, 28, 28]).

Memory grows with the bytes a file really holds, never with the sizes its
header claims, and every claim is checked against those bytes, so a damaged or
hostile file raises `DataFormatError` instead of exhausting memory.
"""

import gzip
import math
import os
import struct
import zlib
from typing import BinaryIO

import numpy as np
from runtime import errors

NUM_CLASSES = 10
IMAGE_SIDE = 28
IMAGE_SHAPE = (IMAGE_SIDE, IMAGE_SIDE)
IMAGE_PIXELS = math.prod(IMAGE_SHAPE)

_GZIP_MAGIC = b"\x1f\x8b"
_UNSIGNED_BYTE_TYPE_CODE = 0x08
_MAX_DIMENSIONS = 4
_LABELS_MAGIC = 0x00000801
_IMAGES_MAGIC = 0x00000803

# The payload is read in chunks of this size so that memory grows with the
# bytes the file really holds, never with the size its header claims.
_READ_CHUNK_BYTES = 16 * 1024 * 1024


class DataFormatError(errors.FixableError):
    """A data file or directory is missing, unreadable or not valid MNIST data."""


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads one IDX file of unsigned bytes.

    Whether the file is gzip-compressed is decided by its first two bytes;
    the name must agree (a `.gz` suffix exactly when the content is gzip).

    Args:
      path: Path of an IDX file, gzip-compressed or raw.

    Returns:
      uint8 array whose shape is the header's dimensions, e.g. [N] for labels
      or [N, 28, 28] for images.

    Raises:
      DataFormatError: If the file is missing or unreadable, its compression
        does not match its name, its gzip stream is corrupt, its header is not
        an unsigned-byte IDX header with 1 to 4 positive dimensions, or its
        payload is shorter or longer than the dimensions require.
    """
    path = os.fspath(path)
    try:
        file = open(path, "rb")
    except OSError as error:
        raise DataFormatError(
            f"Cannot open IDX file {path!r}: {error.strerror}. Check the path."
        ) from error
    with file:
        is_gzip = file.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC
        file.seek(0)
        _check_name_matches_compression(path, is_gzip)
        if not is_gzip:
            return _read_idx_stream(file, path)
        # A damaged gzip file surfaces as BadGzipFile (an OSError), as
        # zlib.error for a damaged deflate stream, or as EOFError when the
        # compressed data ends early.
        try:
            with gzip.GzipFile(fileobj=file) as stream:
                return _read_idx_stream(stream, path)
        except (OSError, zlib.error, EOFError) as error:
            raise DataFormatError(
                f"{path!r} is not a valid gzip file ({error}). Download it "
                "again; `gzip -t FILE` tests a gzip file."
            ) from error


def read_idx_pair(
    images_path: str | os.PathLike, labels_path: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray]:
    """Reads an MNIST images file and its labels file as model inputs.

    Args:
      images_path: IDX file of images, magic 0x00000803, [N, 28, 28] uint8.
      labels_path: IDX file of labels, magic 0x00000801, [N] uint8 in 0..9.

    Returns:
      A tuple (images, labels): images float32 [N, 784] scaled to [0, 1],
      labels int64 [N] in 0..9.

    Raises:
      DataFormatError: If either file cannot be read as IDX (see `read_idx`),
        has the wrong shape, the counts differ, or a label is outside 0..9.
    """
    return prepare_pair(
        read_idx(images_path),
        read_idx(labels_path),
        images_origin=f"images file {os.fspath(images_path)!r}",
        labels_origin=f"labels file {os.fspath(labels_path)!r}",
    )


def prepare_pair(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    images_origin: str,
    labels_origin: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Checks raw MNIST arrays and converts them to what the models take.

    Every data source goes through this one conversion, so a digit gets the
    same float32 pixels whichever source it was read from.

    Args:
      images: uint8 [N, 28, 28], pixel values 0..255.
      labels: Integer dtype [N], values in 0..9.
      images_origin: Where `images` came from, for error messages, e.g.
        "images file '/data/t10k-images-idx3-ubyte.gz'".
      labels_origin: Where `labels` came from, for error messages.

    Returns:
      A tuple (images, labels): images float32 [N, 784] scaled to [0, 1] by
      dividing by 255, labels int64 [N].

    Raises:
      DataFormatError: If a shape or dtype is wrong, the counts differ, or a
        label is outside 0..9.
    """
    if images.dtype != np.uint8 or images.shape[1:] != IMAGE_SHAPE:
        raise DataFormatError(
            f"{images_origin} holds {images.dtype} {list(images.shape)}; "
            "expected uint8 images [N, 28, 28] (IDX magic "
            f"0x{_IMAGES_MAGIC:08x}). Check that the images and labels files "
            "are not swapped."
        )
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataFormatError(
            f"{labels_origin} holds {labels.dtype} {list(labels.shape)}; "
            f"expected integer labels [N] (IDX magic 0x{_LABELS_MAGIC:08x}). "
            "Check that the images and labels files are not swapped."
        )
    if len(images) != len(labels):
        raise DataFormatError(
            f"{images_origin} holds {len(images)} images but {labels_origin} "
            f"holds {len(labels)} labels; they must describe the same "
            "examples. Check that both files belong to the same split."
        )
    out_of_range = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
    if out_of_range.size:
        first = out_of_range[0]
        raise DataFormatError(
            f"{labels_origin} holds label {labels[first]} at index {first}, "
            f"one of {out_of_range.size} labels outside 0..{NUM_CLASSES - 1}, "
            "the MNIST classes. Check that this is an MNIST labels file."
        )
    scaled_images = images.reshape(len(images), IMAGE_PIXELS).astype(np.float32)
    scaled_images /= np.float32(255)
    return scaled_images, labels.astype(np.int64)


def _check_name_matches_compression(path: str, is_gzip: bool) -> None:
    """Raises DataFormatError unless `path` ends in .gz exactly when gzipped."""
    named_gzip = path.endswith(".gz")
    if named_gzip and not is_gzip:
        raise DataFormatError(
            f"{path!r} is named .gz but its content is not gzip-compressed "
            "(some browsers decompress downloads without renaming them). "
            "Remove the .gz suffix from the file name."
        )
    if is_gzip and not named_gzip:
        raise DataFormatError(
            f"{path!r} is gzip-compressed but its name does not end in .gz. "
            "Add the .gz suffix or decompress it with gunzip."
        )


def _read_idx_stream(stream: BinaryIO, path: str) -> np.ndarray:
    """Parses the IDX header and payload of an open binary stream."""
    magic = _read_exactly(stream, 4, path, "the IDX magic number")
    zero_bytes, type_code, num_dimensions = magic[:2], magic[2], magic[3]
    if zero_bytes != b"\x00\x00":
        raise DataFormatError(
            f"{path!r} does not start with an IDX magic number: got "
            f"0x{magic.hex()}, expected two zero bytes then a type code and "
            f"a dimension count (0x{_LABELS_MAGIC:08x} for labels, "
            f"0x{_IMAGES_MAGIC:08x} for images). Check that this is an MNIST "
            "IDX file."
        )
    if type_code != _UNSIGNED_BYTE_TYPE_CODE:
        raise DataFormatError(
            f"{path!r} has IDX type code 0x{type_code:02x}; only 0x08 "
            "(unsigned byte), the type MNIST uses, is supported."
        )
    if not 1 <= num_dimensions <= _MAX_DIMENSIONS:
        raise DataFormatError(
            f"{path!r} declares {num_dimensions} dimensions; expected 1 to "
            f"{_MAX_DIMENSIONS} (MNIST labels have 1, images 3)."
        )
    header = _read_exactly(
        stream, 4 * num_dimensions, path, f"{num_dimensions} dimension sizes"
    )
    dimensions = struct.unpack(f">{num_dimensions}I", header)
    if 0 in dimensions:
        raise DataFormatError(
            f"{path!r} declares dimensions {list(dimensions)}; every "
            "dimension must be greater than 0."
        )
    expected_bytes = math.prod(dimensions)
    # Reading one byte more than needed is how trailing bytes are detected.
    payload = _read_at_most(stream, expected_bytes + 1)
    if len(payload) < expected_bytes:
        raise DataFormatError(
            f"{path!r} is truncated: its header declares dimensions "
            f"{list(dimensions)}, which need {expected_bytes} payload bytes, "
            f"but only {len(payload)} bytes follow the header. Download the "
            "file again."
        )
    if len(payload) > expected_bytes:
        raise DataFormatError(
            f"{path!r} has trailing bytes: its header declares dimensions "
            f"{list(dimensions)}, which need exactly {expected_bytes} payload "
            "bytes, but more follow. Check that the file was not concatenated "
            "with another one, or download it again."
        )
    return np.frombuffer(payload, dtype=np.uint8).reshape(dimensions)


def _read_exactly(stream: BinaryIO, num_bytes: int, path: str, what: str) -> bytes:
    """Reads `num_bytes` header bytes or raises DataFormatError naming `what`."""
    data = stream.read(num_bytes)
    if len(data) != num_bytes:
        raise DataFormatError(
            f"{path!r} ends early: reading {what} needs {num_bytes} bytes but "
            f"only {len(data)} remain. The file is truncated or not an IDX file."
        )
    return data


def _read_at_most(stream: BinaryIO, limit: int) -> bytearray:
    """Reads up to `limit` bytes, growing the buffer only as data arrives."""
    data = bytearray()
    while len(data) < limit:
        chunk = stream.read(min(_READ_CHUNK_BYTES, limit - len(data)))
        if not chunk:
            break
        data += chunk
    return data
