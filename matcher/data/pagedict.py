"""The dictionary pages of Parquet column chunks, read without decoding a single row.

A Parquet writer stores a text column of few distinct values (codes, systems, units, kinds,
and pseudonyms when the rows are ordered by patient) as one *dictionary page* per row group
(the distinct strings) followed by data pages holding, per row, an index into it. Everything
validation and code normalisation need from such a column is in the dictionary page and the
column chunk's statistics (its null count): which values occur, and whether a row has none.
pyarrow decodes every row's index to give the dictionary (:mod:`matcher.data.dictscan`); this
module walks the page *headers* of the chunk instead, decompresses only the dictionary page,
and decodes its strings.

A chunk is answered only when every one of its data pages is dictionary-encoded (a writer
whose dictionary grows too large falls back to plain pages, whose values are not in the
dictionary) and its statistics hold a null count; otherwise, and for anything unexpected
(an unknown codec, an encrypted file, a malformed header), :func:`chunk_dictionaries` returns
None and the caller reads the rows as before. A dictionary is the set of values the writer
saw: it may in principle hold a value no row uses, so a check that passes on it passes on the
rows (a screen); what fails is explained from the rows.

    >>> import tempfile, pathlib, pyarrow as pa, pyarrow.parquet as pq
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
    >>> pq.write_table(pa.table({"system": ["atc", "atc", None], "code": ["A", "B", "A"]}),
    ...     path, row_group_size=2)
    >>> found = chunk_dictionaries(path, ["system", "code"])
    >>> [(c.values.to_pylist(), c.nulls, c.rows) for c in found["system"]]
    [(['atc'], 0, 2), ([], 1, 1)]
    >>> [c.values.to_pylist() for c in found["code"]]
    [['A', 'B'], ['A']]
    >>> pq.write_table(pq.read_table(path), path, use_dictionary=False)
    >>> chunk_dictionaries(path, ["code"]) is None
    True
"""

from __future__ import annotations

import functools
import mmap
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CODECS = {
    "UNCOMPRESSED": None,
    "SNAPPY": "snappy",
    "GZIP": "gzip",
    "BROTLI": "brotli",
    "ZSTD": "zstd",
    "LZ4_RAW": "lz4_raw",
}
"""Parquet codecs whose pages pyarrow can decompress on their own (the old ``LZ4``, framed
in two incompatible ways by different writers, is not among them)."""
DICTIONARY_ENCODINGS = frozenset({2, 8})
"""``PLAIN_DICTIONARY`` and ``RLE_DICTIONARY``: a data page of indices into the dictionary."""
_DATA_PAGE, _INDEX_PAGE, _DICTIONARY_PAGE, _DATA_PAGE_V2 = 0, 1, 2, 3
_PLAIN, _PLAIN_DICTIONARY, _RLE = 0, 2, 3


@dataclass(frozen=True)
class ChunkDictionary:
    """One row group's column chunk: its dictionary, its null count and its row count."""

    values: pa.Array
    """The distinct strings of the chunk (``large_string``)."""
    nulls: int
    rows: int


class _Unsupported(Exception):
    """A chunk this reader does not answer for (the caller reads the rows)."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise _Unsupported("varint too long")


def thrift_struct(data: bytes, pos: int) -> tuple[dict[int, object], int]:
    """The fields of a Thrift compact-protocol struct starting at ``pos``, and where it ends.

    Integers, booleans, binaries (as bytes), lists and nested structs are kept by field id;
    doubles and maps are skipped (Parquet's headers and footers need none of them).

    >>> thrift_struct(bytes([0x15, 0x04, 0x1C, 0x15, 0x10, 0x00, 0x00]), 0)
    ({1: 2, 2: {1: 8}}, 7)
    """
    fields: dict[int, object] = {}
    last = 0
    while True:
        head = data[pos]
        pos += 1
        if head == 0:
            return fields, pos
        kind, delta = head & 0x0F, head >> 4
        if delta:
            last += delta
        else:
            n, pos = _varint(data, pos)
            last = (n >> 1) ^ -(n & 1)
        fields[last], pos = _value(data, pos, kind)


def _value(data: bytes, pos: int, kind: int) -> tuple[object, int]:
    if kind in (4, 5, 6):  # zigzag integers
        n, pos = _varint(data, pos)
        return (n >> 1) ^ -(n & 1), pos
    if kind == 12:
        return thrift_struct(data, pos)
    if kind in (1, 2):  # a boolean field carries its value in its type
        return kind == 1, pos
    if kind == 3:
        return data[pos], pos + 1
    if kind == 7:
        return None, pos + 8
    if kind == 8:
        n, pos = _varint(data, pos)
        return bytes(data[pos : pos + n]), pos + n
    if kind in (9, 10):
        head = data[pos]
        pos += 1
        size, item = head >> 4, head & 0x0F
        if size == 15:
            size, pos = _varint(data, pos)
        if item in (1, 2):  # booleans: one byte each
            return [data[pos + i] == 1 for i in range(size)], pos + size
        items = []
        for _ in range(size):
            value, pos = _value(data, pos, item)
            items.append(value)
        return items, pos
    if kind == 11:
        size, pos = _varint(data, pos)
        if size:
            types = data[pos]
            pos += 1
            for _ in range(size):
                pos = _value(data, pos, types >> 4)[1]
                pos = _value(data, pos, types & 0x0F)[1]
        return None, pos
    raise _Unsupported(f"thrift type {kind}")


def plain_strings(data: bytes, count: int) -> pa.Array:
    """``count`` PLAIN-encoded byte arrays (a 4-byte length, then the bytes) as strings.

    >>> plain_strings(b"\\x02\\x00\\x00\\x00ab\\x01\\x00\\x00\\x00c", 2).to_pylist()
    ['ab', 'c']
    """
    if count == 0:
        return pa.array([], type=pa.large_string())
    buffer = np.frombuffer(data, dtype=np.uint8)
    fixed = _fixed_width(buffer, count)  # the same length throughout (pseudonyms): vectorised
    if fixed is not None:
        return _strings(np.arange(count + 1, dtype=np.int64) * fixed.shape[1], fixed.ravel())
    offsets = np.empty(count + 1, dtype=np.int64)
    starts = np.empty(count, dtype=np.int64)
    pos, total = 0, 0
    unpack = struct.Struct("<I").unpack_from
    offsets[0] = 0
    for i in range(count):
        (size,) = unpack(data, pos)
        starts[i] = pos + 4
        pos += 4 + size
        total += size
        offsets[i + 1] = total
    if pos != len(data):
        raise _Unsupported("dictionary page size mismatch")
    lengths = np.diff(offsets)
    take = np.repeat(starts - offsets[:-1], lengths) + np.arange(total, dtype=np.int64)
    return _strings(offsets, buffer[take])


def _fixed_width(buffer: np.ndarray, count: int) -> np.ndarray | None:
    """``count`` PLAIN byte arrays of one length as a ``(count, length)`` byte matrix; None
    when their lengths differ."""
    if count == 0 or len(buffer) < 4:
        return None
    width = int(buffer[:4].view("<u4")[0])
    if len(buffer) != count * (4 + width):
        return None
    table = buffer.reshape(count, 4 + width)
    if not (table[:, :4].copy().view("<u4").ravel() == width).all():
        return None
    return np.ascontiguousarray(table[:, 4:])


def plain_page_values(data: bytes) -> pa.Array:
    """The values of a PLAIN data page's value section, when they all have one byte length
    (pseudonyms), runs of a repeated value kept once (rows ordered by patient repeat each
    pseudonym); ``_Unsupported`` otherwise (strings of varying lengths would need a loop).

    >>> rows = [b"p1", b"p1", b"p2", b"p1"]
    >>> plain_page_values(b"".join(b"\\x02\\x00\\x00\\x00" + r for r in rows)).to_pylist()
    ['p1', 'p2', 'p1']
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    if len(buffer) == 0:  # only nulls
        return pa.array([], type=pa.large_string())
    width = int(buffer[:4].view("<u4")[0]) if len(buffer) >= 4 else 0
    count = len(buffer) // (4 + width)
    matrix = _fixed_width(buffer, count)
    if matrix is None or width == 0:
        raise _Unsupported("plain values of varying lengths")
    keep = np.ones(count, dtype=bool)
    keep[1:] = (matrix[1:] != matrix[:-1]).any(axis=1)
    kept = matrix[keep]
    return _strings(np.arange(len(kept) + 1, dtype=np.int64) * width, kept.ravel())


def _plain_data_page(
    chunk: bytes, header: dict[int, object], body: int, codec: str | None, max_def: int
) -> pa.Array:
    """The values of the PLAIN data page (v1 or v2) of ``header``, whose body starts at
    ``body`` in ``chunk`` (levels skipped: the chunk's statistics count the nulls)."""
    kind, raw_size, size = header.get(1), header.get(2), header.get(3)
    assert isinstance(raw_size, int) and isinstance(size, int)
    raw = chunk[body : body + size]
    if kind == _DATA_PAGE:
        data = raw if codec is None else pa.decompress(raw, raw_size, codec=codec).to_pybytes()
        page = header.get(5)
        pos = 0
        if max_def > 0:  # definition levels: a 4-byte length, then RLE runs
            if not isinstance(page, dict) or page.get(3) != _RLE:
                raise _Unsupported("definition levels not RLE-encoded")
            pos = 4 + int.from_bytes(data[:4], "little")
        return plain_page_values(data[pos:])
    page = header.get(8)
    if not isinstance(page, dict):
        raise _Unsupported("malformed data page v2 header")
    levels = int(page.get(5) or 0) + int(page.get(6) or 0)  # uncompressed, before the values
    values = raw[levels:]
    if codec is not None and page.get(7, True):
        values = pa.decompress(values, raw_size - levels, codec=codec).to_pybytes()
    return plain_page_values(values)


def _strings(offsets: np.ndarray, body: np.ndarray) -> pa.Array:
    array = pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(body.tobytes())
    )
    array.validate(full=True)  # invalid UTF-8 raises: the caller reads the rows instead
    return array


def _dictionary_page(chunk: bytes, pos: int, codec: str | None) -> tuple[pa.Array, int]:
    """The strings of the dictionary page whose header starts at ``pos``, and its end."""
    header, body = thrift_struct(chunk, pos)
    raw_size, size, page = header.get(2), header.get(3), header.get(7)
    plain = (_PLAIN, _PLAIN_DICTIONARY)  # the dictionary itself, in its old or new name
    if header.get(1) != _DICTIONARY_PAGE or not isinstance(page, dict) or page.get(2) not in plain:
        raise _Unsupported("not a dictionary page")
    if not isinstance(raw_size, int) or not isinstance(size, int) or size < 0:
        raise _Unsupported("malformed page header")
    raw = chunk[body : body + size]
    data = raw if codec is None else pa.decompress(raw, raw_size, codec=codec).to_pybytes()
    return plain_strings(data, int(page.get(1) or 0)), body + size


def _only_dictionary_pages(encoding_stats: object) -> bool:
    """Whether a chunk's ``encoding_stats`` (from the footer) list one dictionary page and
    data pages that are all dictionary-encoded."""
    if not isinstance(encoding_stats, list) or not encoding_stats:
        return False
    dictionaries = 0
    for entry in encoding_stats:
        if not isinstance(entry, dict):
            return False
        kind, encoding, count = entry.get(1), entry.get(2), entry.get(3)
        if kind == _DICTIONARY_PAGE:
            dictionaries += count if isinstance(count, int) else 2
        elif kind in (_DATA_PAGE, _DATA_PAGE_V2):
            if encoding not in DICTIONARY_ENCODINGS:
                return False
        elif kind != _INDEX_PAGE:
            return False
    return dictionaries == 1


def _chunk(
    view: mmap.mmap,
    column: pq.ColumnChunkMetaData,
    rows: int,
    encoding_stats: object = None,
    max_def: int | None = None,
) -> ChunkDictionary:
    """The dictionary of one column chunk, after checking that every data page uses it:
    from the footer's page encoding statistics when the writer recorded them, else by
    walking the page headers of the chunk. With ``max_def`` (the column's maximum
    definition level), PLAIN data pages of one-length values are read too and their values
    added (a dictionary that outgrew its page)."""
    stats = column.statistics
    if stats is None or not stats.has_null_count or column.physical_type != "BYTE_ARRAY":
        raise _Unsupported("no null count, or not text")
    nulls = int(stats.null_count)
    if nulls == rows:
        return ChunkDictionary(pa.array([], type=pa.large_string()), nulls, rows)
    if not column.has_dictionary_page or column.compression not in CODECS:
        raise _Unsupported("no dictionary page, or an unknown codec")
    codec = CODECS[column.compression]
    start = column.dictionary_page_offset or column.data_page_offset
    if _only_dictionary_pages(encoding_stats):  # one header read, no page walked
        head = view[start : min(start + column.total_compressed_size, start + 4096)]
        header, body = thrift_struct(head, 0)
        size = header.get(3)
        if not isinstance(size, int) or body + size > column.total_compressed_size:
            raise _Unsupported("malformed page header")
        page = view[start : start + body + size]
        return ChunkDictionary(_dictionary_page(page, 0, codec)[0], nulls, rows)
    chunk = view[start : start + column.total_compressed_size]
    end = len(chunk)
    values: pa.Array | None = None
    plain: list[pa.Array] = []
    data_values = 0
    pos = 0
    while pos < end:
        header, body = thrift_struct(chunk, pos)
        kind, raw_size, size = header.get(1), header.get(2), header.get(3)
        if not isinstance(raw_size, int) or not isinstance(size, int) or size < 0:
            raise _Unsupported("malformed page header")
        if kind == _DICTIONARY_PAGE:
            if values is not None:
                raise _Unsupported("two dictionary pages")
            values = _dictionary_page(chunk, pos, codec)[0]
        elif kind in (_DATA_PAGE, _DATA_PAGE_V2):
            page = header.get(5 if kind == _DATA_PAGE else 8)
            encoding = page.get(2 if kind == _DATA_PAGE else 4) if isinstance(page, dict) else None
            if encoding == _PLAIN and max_def is not None and max_def <= 1:
                plain.append(_plain_data_page(chunk, header, body, codec, max_def))
            elif encoding not in DICTIONARY_ENCODINGS:
                raise _Unsupported("a data page that is not dictionary-encoded")
            data_values += int(page.get(1) or 0)
        elif kind != _INDEX_PAGE:
            raise _Unsupported(f"page type {kind}")
        pos = body + size
    if values is None or pos != end or data_values != rows:
        raise _Unsupported("pages do not cover the chunk")
    if plain:
        values = pa.concat_arrays([values, *plain])
    return ChunkDictionary(values, nulls, rows)


@functools.lru_cache(maxsize=32)
def _encoding_stats(path: str, size: int, mtime_ns: int) -> dict[tuple[int, str], object]:
    """Per (row group, column path), the chunk's page encoding statistics from the footer of
    the Parquet file ``path`` (absent when the writer did not record them)."""
    with open(path, "rb") as handle:
        handle.seek(size - 8)
        tail = handle.read(8)
        length = int.from_bytes(tail[:4], "little")
        if tail[4:] != b"PAR1" or length > size - 12:
            raise _Unsupported("not a plain Parquet footer")
        handle.seek(size - 8 - length)
        footer = handle.read(length)
    meta, _ = thrift_struct(footer, 0)
    out: dict[tuple[int, str], object] = {}
    groups = meta.get(4)
    for g, group in enumerate(groups if isinstance(groups, list) else []):
        columns = group.get(1) if isinstance(group, dict) else None
        for column in columns if isinstance(columns, list) else []:
            info = column.get(3) if isinstance(column, dict) else None
            if not isinstance(info, dict) or not isinstance(info.get(3), list):
                continue
            name = ".".join(p.decode() for p in info[3] if isinstance(p, bytes))
            out[(g, name)] = info.get(13)
    return out


def chunk_dictionaries(
    path: Path, columns: Sequence[str], *, plain_pages: bool = False
) -> dict[str, list[ChunkDictionary]] | None:
    """Per column, the dictionary of each non-empty row group of the Parquet file ``path``
    (in row-group order); None when one chunk cannot be answered this way (see the module
    docstring) or the file cannot be read.

    ``plain_pages``: a chunk whose dictionary outgrew its page (later data pages PLAIN) is
    answered too when those pages hold values of one byte length (pseudonyms): its values
    are the dictionary's followed by those pages' values (repeats of the previous row left
    out), so a check over them still covers every row."""
    try:
        meta = pq.read_metadata(path)
        positions = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
        if any(name not in positions for name in columns):
            return None
        out: dict[str, list[ChunkDictionary]] = {name: [] for name in columns}
        stat = path.stat()
        pages = _encoding_stats(str(path), stat.st_size, stat.st_mtime_ns)
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m:
            for group in range(meta.num_row_groups):
                row_group = meta.row_group(group)
                if not row_group.num_rows:
                    continue
                for name in columns:
                    chunk = row_group.column(positions[name])
                    described = meta.schema.column(positions[name])
                    flat = plain_pages and described.max_repetition_level == 0
                    max_def = described.max_definition_level if flat else None
                    found = _chunk(
                        m,
                        chunk,
                        row_group.num_rows,
                        pages.get((group, name)),
                        max_def,
                    )
                    out[name].append(found)
    except (_Unsupported, pa.ArrowException, OSError, ValueError, IndexError):
        return None
    return out


__all__ = ["ChunkDictionary", "chunk_dictionaries", "plain_strings"]
