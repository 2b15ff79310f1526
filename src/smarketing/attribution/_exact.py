"""Exact sums of floats per key (private): the same answer in any grouping and order of the terms.

A sum of floats depends on the order of its additions in the last bits, so per-partition float sums merged
on Spark would differ from one machine's. Here every term is split into its integer mantissa and binary
exponent (``x = m * 2**(e - 53)``, ``m`` a 53-bit integer); the mantissas are added up as integers per
(key, exponent), in two halves of 26 and 27 bits so that an int64 holds the sum of 2**36 terms; and the
driver adds the groups exactly (Python integers) and rounds once to the nearest float. Integer sums are
associative, so partials merged in any grouping (a Spark ``sum`` per (key, exponent)) give the one-machine
table; the result is the correctly rounded sum of the terms, :func:`math.fsum`'s.

>>> import numpy as np
>>> values = np.array([0.1] * 10 + [1e16, 1.0, -1e16])
>>> float(exact_sums(exact_parts(np.zeros(13, dtype=np.int64), values), 1)[0])
2.0
>>> float(np.bincount(np.zeros(13, dtype=np.int64), weights=values)[0])
0.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from smarketing.typing import FloatArray

__all__ = ["PARTS_SCHEMA", "exact_parts", "exact_sums"]

_MANTISSA = 53  # bits of a float64's significand
_LOW = 26  # bits in the low half of a mantissa
_EXPONENTS = 1100  # frexp's exponents of finite float64 values lie in -1073 .. 1024: offset to 0 .. 2124
_CHUNK = 1 << 25  # terms per float bincount: 2**25 halves below 2**27 sum to below 2**52, exactly
_DENSE = 1 << 24  # the most dense (key, exponent) cells; past it, a group-by
_I64 = pl.Int64()

#: The columns of :func:`exact_parts`: per (key, exponent) the summed high and low halves of the mantissas.
PARTS_SCHEMA: dict[str, pl.DataType] = {"key": _I64, "exp": _I64, "high": _I64, "low": _I64}


def exact_parts(keys: Any, values: FloatArray) -> pl.DataFrame:
    """Per (key, exponent): the sums of the high and low halves of ``values``' integer mantissas.

    ``keys`` and ``values`` are parallel arrays (integer keys, finite floats). Zeros add nothing and are
    left out. Parts of any subsets of the terms, summed per (key, exponent), are the parts of all of them.
    The halves are added by ``np.bincount`` in floats, exactly: a half is below 2**27 in magnitude, so the
    sums of :data:`_CHUNK` of them stay below 2**53, and the chunks' sums are added as integers.

    Raises:
        ValueError: A value is not finite.
    """
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("exact sums need finite values")
    fraction, exponent = np.frexp(values)  # values == fraction * 2**exponent, 0.5 <= |fraction| < 1
    mantissa = np.ldexp(fraction, _MANTISSA).astype(np.int64)  # exact: a float64 has 53 significant bits
    nonzero = mantissa != 0
    keys = np.asarray(keys, dtype=np.int64)[nonzero]
    mantissa, exponent = mantissa[nonzero], exponent[nonzero].astype(np.int64) + _EXPONENTS
    if not len(mantissa):
        return pl.DataFrame(schema=PARTS_SCHEMA)
    # Dense cells: the exponents that occur (a few dozen) times the span of the keys.
    present = np.flatnonzero(np.bincount(exponent, minlength=2 * _EXPONENTS))
    code = np.zeros(2 * _EXPONENTS, dtype=np.int64)
    code[present] = np.arange(len(present))
    first = int(keys.min())
    size = (int(keys.max()) - first + 1) * len(present)
    if size > _DENSE:
        return _sparse_parts(keys, exponent - _EXPONENTS, mantissa)
    cell = (keys - first) * len(present) + code[exponent]
    high = np.zeros(size, dtype=np.int64)
    low = np.zeros(size, dtype=np.int64)
    for start in range(0, len(cell), _CHUNK):
        part = slice(start, start + _CHUNK)
        halves = mantissa[part]
        high += np.bincount(cell[part], weights=halves >> _LOW, minlength=size).astype(np.int64)
        low += np.bincount(cell[part], weights=halves & ((1 << _LOW) - 1), minlength=size).astype(np.int64)
    used = np.flatnonzero(np.bincount(cell, minlength=size))
    return pl.DataFrame(
        {
            "key": used // len(present) + first,
            "exp": present[used % len(present)] - _EXPONENTS,
            "high": high[used],
            "low": low[used],
        },
        schema=PARTS_SCHEMA,
    )


def _sparse_parts(keys: Any, exponent: Any, mantissa: Any) -> pl.DataFrame:
    """:func:`exact_parts` by a group-by, for keys too many or too spread for dense cells."""
    frame = pl.DataFrame(
        {
            "key": keys,
            "exp": exponent,
            "high": mantissa >> _LOW,  # floor: high * 2**26 + low == mantissa, 0 <= low < 2**26
            "low": mantissa & ((1 << _LOW) - 1),
        },
        schema=PARTS_SCHEMA,
    )
    return frame.group_by("key", "exp").agg(pl.col("high", "low").sum())


def exact_sums(parts: pl.DataFrame, n: int) -> FloatArray:
    """Per key ``0 .. n - 1``: the exact sum of its terms in ``parts``, rounded once to the nearest float.

    ``parts`` has :data:`PARTS_SCHEMA`'s columns, one row or several per (key, exponent); a key without
    rows sums to 0.0.
    """
    out = np.zeros(n, dtype=np.float64)
    if not len(parts):
        return out
    lowest: int = parts.get_column("exp").min()  # type: ignore[assignment]  # an Int64 column's minimum
    base = lowest - _MANTISSA  # every term is an integer times 2**base
    totals: dict[int, int] = {}
    for key, exp, high, low in parts.select("key", "exp", "high", "low").iter_rows():
        units = ((int(high) << _LOW) + int(low)) << (int(exp) - _MANTISSA - base)
        totals[int(key)] = totals.get(int(key), 0) + units
    for key, units in totals.items():
        # int / int is correctly rounded in Python; a positive base scales exactly before it.
        out[key] = float(units << base) if base >= 0 else units / (1 << -base)
    return out
