"""Tests for mnist_data.idx: the IDX reader, its checks and the shipped files."""

import gzip
import pathlib
import struct

from hypothesis import HealthCheck, given, settings, strategies as st
import numpy as np
import pytest

from mnist_data import idx

PACKAGE_DATA_DIR = pathlib.Path(idx.__file__).parent / "data"


def idx_bytes(array: np.ndarray) -> bytes:
    """Encodes a uint8 array as IDX with struct, independently of the reader."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_file(path: pathlib.Path, content: bytes) -> pathlib.Path:
    """Writes `content`, gzip-compressed exactly when the name ends in .gz."""
    if path.name.endswith(".gz"):
        content = gzip.compress(content)
    path.write_bytes(content)
    return path


def write_idx_file(path: pathlib.Path, array: np.ndarray) -> pathlib.Path:
    """Writes `array` as an IDX file, gzip-compressed when named .gz."""
    return write_file(path, idx_bytes(array))


@pytest.mark.parametrize("file_name", ["array.idx", "array.idx.gz"])
@pytest.mark.parametrize("shape", [(7,), (3, 28, 28), (2, 3), (2, 1, 3, 4)])
def test_read_idx_round_trips(tmp_path, file_name, shape):
    array = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    path = write_idx_file(tmp_path / file_name, array)

    result = idx.read_idx(path)

    assert result.dtype == np.uint8
    np.testing.assert_array_equal(result, array)


def test_read_idx_reads_big_endian_header(tmp_path):
    # Magic 0x00000801 and one dimension of 3, written out byte by byte.
    path = tmp_path / "labels.idx"
    path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))

    np.testing.assert_array_equal(idx.read_idx(path), [7, 2, 1])


def test_shipped_test_set_matches_its_readme():
    images, labels = idx.read_idx_pair(
        PACKAGE_DATA_DIR / "t10k-images-idx3-ubyte.gz",
        PACKAGE_DATA_DIR / "t10k-labels-idx1-ubyte.gz",
    )

    assert images.dtype == np.float32
    assert images.shape == (10_000, 784)
    assert images.min() == 0.0 and images.max() == 1.0
    assert labels.dtype == np.int64
    assert labels.shape == (10_000,)
    np.testing.assert_array_equal(labels[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    np.testing.assert_array_equal(
        np.bincount(labels), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    )
    assert images.mean(dtype=np.float64) == pytest.approx(0.13251, abs=1e-5)


def _header(type_code: int, *dimensions: int) -> bytes:
    return bytes([0, 0, type_code, len(dimensions)]) + struct.pack(
        f">{len(dimensions)}I", *dimensions
    )


@pytest.mark.parametrize("file_name", ["bad.idx", "bad.idx.gz"])
@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x00\x08", "reading the IDX magic number needs 4 bytes"),
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "does not start with an IDX magic"),
        (_header(0x0D, 1) + b"\x00" * 4, "type code 0x0d"),
        (bytes([0, 0, 8, 0]), "declares 0 dimensions"),
        (bytes([0, 0, 8, 5]) + b"\x00" * 20, "declares 5 dimensions"),
        (_header(0x08, 3, 28)[:-2], "reading 2 dimension sizes needs 8 bytes"),
        (_header(0x08, 3, 0, 28), "every dimension must be greater than 0"),
        (_header(0x08, 2, 5) + b"\x00" * 9, "need 10 payload bytes, but only 9"),
        (_header(0x08, 2, 5) + b"\x00" * 11, "trailing bytes"),
    ],
)
def test_read_idx_rejects_malformed_content(tmp_path, file_name, content, message):
    path = write_file(tmp_path / file_name, content)

    with pytest.raises(idx.DataFormatError, match=message) as raised:
        idx.read_idx(path)

    assert str(path) in str(raised.value)


@pytest.mark.parametrize("file_name", ["huge.idx", "huge.idx.gz"])
def test_read_idx_rejects_header_claiming_a_billion_images(tmp_path, file_name):
    content = _header(0x08, 10**9, 28, 28) + b"\x00" * 1000
    path = write_file(tmp_path / file_name, content)

    with pytest.raises(idx.DataFormatError, match="need 784000000000 payload bytes"):
        idx.read_idx(path)


def test_read_idx_rejects_gz_name_with_raw_content(tmp_path):
    path = tmp_path / "labels.idx.gz"
    path.write_bytes(idx_bytes(np.arange(3, dtype=np.uint8)))

    with pytest.raises(idx.DataFormatError, match="named .gz but its content is not"):
        idx.read_idx(path)


def test_read_idx_rejects_gzip_content_without_gz_name(tmp_path):
    path = tmp_path / "labels.idx"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(3, dtype=np.uint8))))

    with pytest.raises(idx.DataFormatError, match="name does not end in .gz"):
        idx.read_idx(path)


def _compressed_labels() -> bytes:
    return gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8)))


@pytest.mark.parametrize(
    "corrupt",
    [
        # The compressed stream stops before its end-of-stream marker.
        lambda content: content[: len(content) // 2],
        # The deflate data is garbage right after the 10-byte gzip header.
        lambda content: content[:10] + b"\xff" * 20,
        # The CRC-32 in the trailer no longer matches the data.
        lambda content: content[:-8] + bytes([content[-8] ^ 0xFF]) + content[-7:],
    ],
    ids=["truncated", "garbage_deflate", "bad_crc"],
)
def test_read_idx_rejects_corrupt_gzip(tmp_path, corrupt):
    path = tmp_path / "labels.idx.gz"
    path.write_bytes(corrupt(_compressed_labels()))

    with pytest.raises(idx.DataFormatError, match="is not a valid gzip file"):
        idx.read_idx(path)


def test_read_idx_rejects_missing_file(tmp_path):
    path = tmp_path / "absent-idx1-ubyte.gz"

    with pytest.raises(idx.DataFormatError, match="No such file") as raised:
        idx.read_idx(path)

    assert str(path) in str(raised.value)


def test_read_idx_rejects_file_in_nonexistent_directory(tmp_path):
    path = tmp_path / "no_such_dir" / "t10k-labels-idx1-ubyte"

    with pytest.raises(idx.DataFormatError, match="Cannot open IDX file") as raised:
        idx.read_idx(path)

    assert str(path) in str(raised.value)


def test_read_idx_rejects_directory(tmp_path):
    with pytest.raises(idx.DataFormatError, match="Cannot open IDX file"):
        idx.read_idx(tmp_path)


def _write_pair(tmp_path, images: np.ndarray, labels: np.ndarray):
    return (
        write_idx_file(tmp_path / "images-idx3-ubyte.gz", images),
        write_idx_file(tmp_path / "labels-idx1-ubyte.gz", labels),
    )


def test_read_idx_pair_scales_and_flattens(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    images[0, 0, 0] = 255
    labels = np.array([3, 0, 9, 3], dtype=np.uint8)
    images_path, labels_path = _write_pair(tmp_path, images, labels)

    result_images, result_labels = idx.read_idx_pair(images_path, labels_path)

    assert result_images.dtype == np.float32
    assert result_images.shape == (4, 784)
    assert result_images[0, 0] == 1.0
    np.testing.assert_array_equal(
        result_images, images.reshape(4, 784).astype(np.float32) / np.float32(255)
    )
    assert result_labels.dtype == np.int64
    np.testing.assert_array_equal(result_labels, labels)


def test_read_idx_pair_rejects_mismatched_counts(tmp_path):
    images_path, labels_path = _write_pair(
        tmp_path, np.zeros((3, 28, 28), np.uint8), np.zeros(2, np.uint8)
    )

    with pytest.raises(idx.DataFormatError, match="3 images but .* 2 labels") as raised:
        idx.read_idx_pair(images_path, labels_path)

    assert str(images_path) in str(raised.value)
    assert str(labels_path) in str(raised.value)


def test_read_idx_pair_rejects_label_above_nine(tmp_path):
    images_path, labels_path = _write_pair(
        tmp_path, np.zeros((3, 28, 28), np.uint8), np.array([1, 10, 2], np.uint8)
    )

    with pytest.raises(idx.DataFormatError, match="label 10 at index 1") as raised:
        idx.read_idx_pair(images_path, labels_path)

    assert str(labels_path) in str(raised.value)


def test_read_idx_pair_rejects_swapped_files(tmp_path):
    images_path, labels_path = _write_pair(
        tmp_path, np.zeros((3, 28, 28), np.uint8), np.zeros(3, np.uint8)
    )

    message = r"expected uint8 images \[N, 28, 28\]"
    with pytest.raises(idx.DataFormatError, match=message):
        idx.read_idx_pair(labels_path, images_path)


def test_read_idx_pair_rejects_wrong_image_size(tmp_path):
    images_path, labels_path = _write_pair(
        tmp_path, np.zeros((3, 32, 32), np.uint8), np.zeros(3, np.uint8)
    )

    with pytest.raises(idx.DataFormatError, match=r"uint8 \[3, 32, 32\]"):
        idx.read_idx_pair(images_path, labels_path)


# Each example overwrites the same file, so sharing one tmp_path across the
# examples of a test is safe.
_PROPERTY_SETTINGS = settings(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _read_only_raises_data_format_error(path: pathlib.Path):
    """Returns read_idx's array, or None if it raised DataFormatError.

    Any other exception, MemoryError included, propagates and fails the test.
    """
    try:
        return idx.read_idx(path)
    except idx.DataFormatError:
        return None


@_PROPERTY_SETTINGS
@given(
    content=st.binary(max_size=200),
    file_name=st.sampled_from(["any.idx", "any.idx.gz"]),
    compress=st.booleans(),
)
def test_read_idx_raises_only_data_format_error_on_arbitrary_bytes(
    tmp_path, content, file_name, compress
):
    path = tmp_path / file_name
    path.write_bytes(gzip.compress(content) if compress else content)

    _read_only_raises_data_format_error(path)


@_PROPERTY_SETTINGS
@given(
    dimensions=st.lists(
        st.integers(0, 2**32 - 1) | st.integers(1, 4), min_size=1, max_size=4
    ),
    payload=st.binary(max_size=100),
    file_name=st.sampled_from(["any.idx", "any.idx.gz"]),
)
def test_read_idx_checks_valid_headers_against_payload(
    tmp_path, dimensions, payload, file_name
):
    path = write_file(tmp_path / file_name, _header(0x08, *dimensions) + payload)

    array = _read_only_raises_data_format_error(path)

    if array is not None:
        assert array.shape == tuple(dimensions)
        assert array.tobytes() == payload

