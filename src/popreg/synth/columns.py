"""Arrow string columns assembled from NumPy arrays without touching each row in Python.

Codes of a fixed width (PINs, unit codes, province and ethnic codes) are laid out as a NumPy
matrix of ASCII bytes, one row per value, and handed to Arrow as the data buffer of a string
array whose offsets advance by the width: no string is ever created one by one. Columns of a few
distinct values of varying width ("permanent", "temporary") are gathered from a small vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from popreg.synth.arrays import BoolArray, IntArray

ByteMatrix = npt.NDArray[np.uint8]

_DIVIDE_BY_THOUSAND = 1_073_742
"""ceil(2**30 / 1000)."""
_DIGITS_3 = np.array([[48 + d // 100, 48 + d // 10 % 10, 48 + d % 10] for d in range(1000)], dtype=np.uint8)


def code_matrix(codes: Sequence[str]) -> ByteMatrix:
    """The ASCII bytes of codes that all have the same width, one row per code."""
    width = len(codes[0]) if codes else 0
    if any(len(code) != width for code in codes):
        raise ValueError("Codes of a fixed-width column must all have the same length.")
    raw = "".join(codes).encode("ascii")
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(codes), width).copy()


def rows(chars: ByteMatrix, indices: IntArray) -> ByteMatrix:
    """The rows of a byte matrix at the given indices (``np.take`` copies whole rows at once)."""
    return np.take(chars, indices, axis=0)


def fixed_width(chars: ByteMatrix, null: BoolArray | None = None) -> pa.StringArray:
    """A string array whose values are the rows of ``chars`` (null where ``null`` is true)."""
    count, width = chars.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(chars)
    validity = None
    if null is not None and null.any():
        validity = _buffer(np.packbits(~null, bitorder="little"))
    return pa.StringArray.from_buffers(count, _buffer(offsets), _buffer(data), validity, null_count=-1)


def _buffer(values: npt.NDArray[Any]) -> pa.Buffer:
    """The memory of a NumPy array as an Arrow buffer, without copying."""
    return pa.py_buffer(values)


def join(*parts: pa.StringArray) -> pa.StringArray:
    """Concatenate string columns row by row (all non-null)."""
    joined: pa.StringArray = pc.binary_join_element_wise(*parts, "")
    return joined


def digits(values: IntArray, width: int) -> ByteMatrix:
    """Zero-padded decimal digits of integers from 0 to 999,999 (``width`` at most 6)."""
    if width > 6 or (len(values) and (values.min() < 0 or values.max() >= 10**width)):
        raise ValueError(f"Only integers from 0 to {10**width - 1} can be written on {width} digits.")
    # value // 1000 by multiplication and shift: exact below 6 million.
    high = (values.astype(np.int64) * _DIVIDE_BY_THOUSAND) >> 30
    out = np.empty((len(values), 6), dtype=np.uint8)
    out[:, :3] = rows(_DIGITS_3, high)
    out[:, 3:] = rows(_DIGITS_3, values - high * 1000)
    return out[:, 6 - width :]


def from_vocabulary(vocabulary: pa.StringArray, indices: IntArray) -> pa.StringArray:
    """The vocabulary entry at each index (indices narrowed so the gather is cheap)."""
    narrow: npt.NDArray[np.integer[Any]] = indices.astype(np.uint8 if len(vocabulary) <= 256 else np.int32)
    return vocabulary.take(narrow)


def vocabulary(values: Sequence[str]) -> pa.StringArray:
    """A small vocabulary of strings, to gather from with :func:`from_vocabulary`."""
    return pa.array(list(values), pa.string())
