"""Kernel size, stride and padding of a convolution or pooling layer, from the spatial sizes
of its input and output only (torchview and Keras files draw shapes, not these constants).

The rule (stated once here; the notes at each node quote the reading it used), per spatial
dimension, with `out = floor((in + 2·padding − kernel) / stride) + 1`:

Convolutions, in order, the first that applies:
  1. `shortcut`: a convolution alone (with at most a normalization after it) on the shortcut
     branch of a residual add, whose channels or size change: a 1×1 projection, padding 0,
     stride = in / out (ResNet's downsample).
  2. `same`: out == in: stride 1, kernel 3, padding 1 (any odd kernel k with padding (k−1)/2
     fits; 3×3 is the common choice).
  3. `halved`: out == ceil(in / 2): stride 2, kernel 3, padding 1.
  4. `valid`: out < in: stride 1, padding 0, kernel = in − out + 1.
Pooling: kernel = stride = in / out, padding 0 where out divides in; else kernel 3, stride 2,
padding 1 where that fits (ResNet's stem pooling); else kernel = stride = floor(in / out).

Values the user fixes (`--set node.kernel_size=1`) are kept, and the rest are found by the
first reading above that agrees with them, else by a search in a stated order: stride 1, 2, …;
kernel 3, 1, 5, 7, 9, 11, then 2, 4, 6, …; padding (k−1)/2, 0, 1, 2, … — the first that gives
the drawn size. Nothing fits: `NoFit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

KEYS = ("kernel_size", "stride", "padding")

READINGS = {
    "shortcut": "a convolution alone on the shortcut of a residual add, changing channels or size: a 1×1 "
                "projection, padding 0, stride = in/out",
    "same": "the output keeps the input's size, as any odd kernel k with padding (k−1)/2 and stride 1 does: "
            "3×3 taken, the common choice",
    "halved": "the output is the input's size halved (rounded up): stride 2, kernel 3, padding 1 taken",
    "valid": "the output is smaller without being halved: stride 1, no padding, kernel = in − out + 1",
    "pool": "pooling: kernel = stride = in/out, no padding",
    "pool_halved": "pooling to half the size (rounded up) that in/out does not divide: kernel 3, stride 2, "
                   "padding 1 taken",
    "pool_floor": "pooling: kernel = stride = floor(in/out), no padding",
    "set": "with the values given by --set, the first of stride 1, 2, …, kernel 3, 1, 5, 7, … and padding "
           "(k−1)/2, 0, 1, … that gives the drawn size",
}


class NoFit(ValueError):
    """No kernel, stride and padding give the drawn output size (with the fixed values)."""


@dataclass(frozen=True)
class Geometry:
    """The chosen kernel_size, stride and padding (an int, or a tuple where the dimensions
    differ), the reading that chose them (a key of READINGS), and common alternatives that
    give the same sizes (for the note)."""

    values: dict[str, int | tuple[int, ...]]
    reading: str
    alternatives: tuple[dict[str, int], ...] = ()


def out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """torch's output size of a convolution or pooling along one dimension (dilation 1)."""
    return (size + 2 * padding - kernel) // stride + 1


def convolution(sizes_in: Sequence[int], sizes_out: Sequence[int], fixed: dict[str, object] | None = None, *,
                shortcut: bool = False) -> Geometry:
    """The geometry of a convolution from its spatial sizes, by the rule in the module docstring."""
    return _solve(sizes_in, sizes_out, fixed or {}, _conv_readings(shortcut))


def pooling(sizes_in: Sequence[int], sizes_out: Sequence[int], fixed: dict[str, object] | None = None) -> Geometry:
    """The geometry of a max or average pooling from its spatial sizes, by the rule above."""
    return _solve(sizes_in, sizes_out, fixed or {}, _POOL_READINGS)


def _conv_readings(shortcut: bool) -> list[tuple[str, object]]:
    readings: list[tuple[str, object]] = [("shortcut", _shortcut)] if shortcut else []
    return readings + [("same", _same), ("halved", _halved), ("valid", _valid)]


def _shortcut(i: int, o: int) -> tuple[int, int, int] | None:
    stride = max(i // o, 1) if o else 0
    return (1, stride, 0) if stride and out_size(i, 1, stride, 0) == o else None


def _same(i: int, o: int) -> tuple[int, int, int] | None:
    return (3, 1, 1) if o == i else None


def _halved(i: int, o: int) -> tuple[int, int, int] | None:
    return (3, 2, 1) if o < i and o == -(-i // 2) else None


def _valid(i: int, o: int) -> tuple[int, int, int] | None:
    return (i - o + 1, 1, 0) if 0 < o < i else None


def _pool(i: int, o: int) -> tuple[int, int, int] | None:
    return (i // o, i // o, 0) if 0 < o <= i and i % o == 0 else None


def _pool_halved(i: int, o: int) -> tuple[int, int, int] | None:
    return (3, 2, 1) if o < i and out_size(i, 3, 2, 1) == o else None


def _pool_floor(i: int, o: int) -> tuple[int, int, int] | None:
    k = i // o if 0 < o <= i else 0
    return (k, k, 0) if k and out_size(i, k, k, 0) == o else None


_POOL_READINGS: list[tuple[str, object]] = [("pool", _pool), ("pool_halved", _pool_halved), ("pool_floor", _pool_floor)]


def _per_dim(value: object, dims: int, key: str) -> list[int | None]:
    if value is None:
        return [None] * dims
    if isinstance(value, int) and not isinstance(value, bool):
        return [value] * dims
    if isinstance(value, (tuple, list)) and len(value) == dims and all(isinstance(v, int) and not isinstance(v, bool)
                                                                       for v in value):
        return list(value)
    raise NoFit(f"expected {key} to be an int or a tuple of {dims} ints, found {value!r}")


def _solve(sizes_in: Sequence[int], sizes_out: Sequence[int], fixed: dict[str, object],
           readings: list[tuple[str, object]]) -> Geometry:
    dims = len(sizes_in)
    if dims != len(sizes_out) or dims == 0:
        raise NoFit(f"expected input and output with the same number of spatial dimensions, found "
                    f"{_size(sizes_in)} → {_size(sizes_out)}")
    wanted = {key: _per_dim(fixed.get(key), dims, key) for key in KEYS}
    for key, values in wanted.items():
        if any(v is not None and (v < 0 or (v == 0 and key != "padding")) for v in values):
            raise NoFit(f"expected {key} of at least {0 if key == 'padding' else 1}, found {fixed[key]!r}")
    chosen: list[tuple[int, int, int]] = []
    names: list[str] = []
    for d, (i, o) in enumerate(zip(sizes_in, sizes_out)):
        want = tuple(wanted[key][d] for key in KEYS)
        found = None
        for name, reading in readings:
            got = reading(i, o)  # type: ignore[operator]
            if got is not None and all(w is None or w == g for w, g in zip(want, got)):
                found, name_used = got, name
                break
        if found is None and any(w is not None for w in want):
            found, name_used = _search(i, o, want), "set"
        if found is None:
            raise NoFit(f"no kernel, stride and padding give {_size(sizes_in)} → {_size(sizes_out)}"
                        + (" with the values given" if any(w is not None for w in want) else
                           " under the rule (a larger output needs more padding than 'same')"))
        chosen.append(found)
        names.append(name_used)
    values: dict[str, int | tuple[int, ...]] = {}
    for n, key in enumerate(KEYS):
        column = tuple(c[n] for c in chosen)
        values[key] = column[0] if len(set(column)) == 1 else column
    reading = names[0] if len(set(names)) == 1 else "set" if "set" in names else names[0]
    return Geometry(values, reading, _alternatives(sizes_in, sizes_out, chosen, wanted))


def _search(i: int, o: int, want: tuple[int | None, ...]) -> tuple[int, int, int] | None:
    for s in [want[1]] if want[1] is not None else range(1, i + 1):
        for k in [want[0]] if want[0] is not None else _kernels(i):
            for p in [want[2]] if want[2] is not None else _paddings(k):
                if k <= i + 2 * p and out_size(i, k, s, p) == o:
                    return (k, s, p)
    return None


def _kernels(i: int) -> Iterator[int]:
    first = [3, 1, 5, 7, 9, 11]
    yield from first
    yield from (k for k in range(2, i + 2) if k not in first)


def _paddings(k: int) -> Iterator[int]:
    yield (k - 1) // 2
    yield from (p for p in range(k) if p != (k - 1) // 2)


def _alternatives(sizes_in: Sequence[int], sizes_out: Sequence[int], chosen: list[tuple[int, int, int]],
                  wanted: dict[str, list[int | None]]) -> tuple[dict[str, int], ...]:
    """Common square configurations (kernel 1, 3, 5, 7; stride 1, 2; padding 0 or (k−1)/2)
    other than the chosen one that also give the drawn sizes in every dimension."""
    found = []
    for k in (1, 3, 5, 7):
        for s in (1, 2):
            for p in sorted({0, (k - 1) // 2}):
                if all(c == (k, s, p) for c in chosen):
                    continue
                if any(w is not None and w != v for key, v in zip(KEYS, (k, s, p)) for w in wanted[key]):
                    continue
                if all(k <= i + 2 * p and out_size(i, k, s, p) == o for i, o in zip(sizes_in, sizes_out)):
                    found.append({"kernel_size": k, "stride": s, "padding": p})
    return tuple(found)


def _size(sizes: Sequence[int]) -> str:
    return "×".join(map(str, sizes))


def describe(geometry: Geometry, sizes_in: Sequence[int], sizes_out: Sequence[int]) -> str:
    """`kernel_size=5, stride=1, padding=0 inferred from 32×32 → 28×28 (reading …)`."""
    values = ", ".join(f"{k}={v}" for k, v in geometry.values.items())
    return f"{values} inferred from the size {_size(sizes_in)} → {_size(sizes_out)} ({READINGS[geometry.reading]})"
