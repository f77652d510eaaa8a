"""Why a CSV file cannot be read, in words that point at the line to fix.

The contract's CSV is UTF-8 and comma-separated, every line with as many fields as the header.
Polars reports a broken file with one generic error; these helpers find what is wrong:

* :func:`layout_problem` (on the header only, no cost): a header that is one field holding
  ``;`` or tabs is a file written with another separator (a French spreadsheet writes ``;``);
* :func:`diagnose` (only once reading failed): the first bytes that are not UTF-8 (line and
  column, and the likely encoding), else the rows with more fields than the header (a second
  parse of the file, single-threaded, which finds the line numbers).

Messages give line numbers, never the content of a line.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "p.csv").write_bytes(b"a,b\\n1,2\\n3,4,5\\n6,caf\\xe9\\n")
    >>> for m in diagnose(d / "p.csv"): print(m)
    line 4, column 6: not valid UTF-8 (byte 0xe9): the file looks latin-1 (ISO-8859-1 or Windows-1252) encoded; save it as UTF-8, e.g. iconv -f latin1 -t utf-8
"""  # noqa: E501

from __future__ import annotations

from pathlib import Path

ROWS_SHOWN = 5
_BLOCK = 1 << 24
_OTHER_SEPARATORS = {";": "semicolon", "\t": "tab", "|": "pipe"}


def layout_problem(columns: list[str]) -> str | None:
    """A hint when a CSV header looks written with another separator than ``,``.

    >>> layout_problem(["patient_id;birth_year;sex"])
    "the header is one field holding ';': the file looks semicolon-separated; p4dp reads comma-separated CSV (save it with ',' as the separator)"
    >>> layout_problem(["patient_id", "sex"]) is None
    True
    """  # noqa: E501
    if len(columns) != 1:
        return None
    for sep, name in _OTHER_SEPARATORS.items():
        if sep in columns[0]:
            return (
                f"the header is one field holding {sep!r}: the file looks {name}-separated; "
                "p4dp reads comma-separated CSV (save it with ',' as the separator)"
            )
    return None


def _encoding_problem(path: Path) -> str | None:
    """The first byte that is not UTF-8, by line and column (1-based), with a hint."""
    line = 1
    pending = b""  # the unfinished last line of the previous block (for the column)
    with path.open("rb") as handle:
        while True:
            block = handle.read(_BLOCK)
            data = pending + block
            if not data:
                return None
            bad = None
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                cut_char = exc.reason == "unexpected end of data" and exc.end == len(data)
                if not cut_char or not block:  # a character cut by the block: read on
                    bad = exc.start
            if bad is not None:
                before = data[:bad]
                start = before.rfind(b"\n") + 1
                column = len(before[start:].decode("utf-8", "replace")) + 1
                at = line + before.count(b"\n")
                return (
                    f"line {at}, column {column}: not valid UTF-8 "
                    f"(byte {data[bad]:#04x}): the file looks latin-1 (ISO-8859-1 or "
                    "Windows-1252) encoded; save it as UTF-8, e.g. iconv -f latin1 -t utf-8"
                )
            if not block:
                return None
            cut = data.rfind(b"\n") + 1
            line += data.count(b"\n", 0, cut)
            pending = data[cut:]


def _ragged_rows(path: Path) -> list[str]:
    """Rows with more fields than the header: how many, and the first line numbers."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    found: list[tuple[int, int, int]] = []
    count = 0

    def handler(row: pacsv.InvalidRow) -> str:
        nonlocal count
        if row.actual_columns > row.expected_columns:
            count += 1
            if len(found) < ROWS_SHOWN:
                found.append((row.number or 0, row.actual_columns, row.expected_columns))
        return "skip"

    options = pacsv.ParseOptions(invalid_row_handler=handler, newlines_in_values=True)
    read = pacsv.ReadOptions(use_threads=False, block_size=_BLOCK)
    try:
        reader = pacsv.open_csv(
            path,
            read_options=read,
            parse_options=options,
            convert_options=pacsv.ConvertOptions(include_columns=[]),
        )
        for _ in reader:
            pass
    except (pa.ArrowException, OSError):
        pass  # the caller's own message stands
    if not count:
        return []
    # ``number`` counts records from 1 with the header: data row N is record N + 1
    lines = ", ".join(str(n) for n, _, _ in found)
    _, actual, expected = found[0]
    more = "first lines" if count > len(found) else f"line{'s' if count != 1 else ''}"
    return [
        f"{count:,} row{'s' if count != 1 else ''} with more fields than the header "
        f"({more} {lines}; line {found[0][0]} has {actual} fields, the header {expected}): "
        "quote fields that contain a comma"
    ]


def diagnose(path: Path) -> list[str]:
    """What makes the CSV file ``path`` unreadable (empty when nothing specific was found)."""
    problem = _encoding_problem(path)
    if problem is not None:
        return [problem]
    return _ragged_rows(path)


__all__ = ["diagnose", "layout_problem"]
