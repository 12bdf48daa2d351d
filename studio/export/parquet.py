"""Streaming parquet writing, and the schema metadata that makes `datasets` see images.

Rows go out one row group at a time, so an export never holds more than a row group
of image bytes in memory. Only the parquet formats (and importing an `hf` export)
import this module, and with it pyarrow.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq

# The struct `datasets.Image` stores; with the schema metadata below it is decoded to a PIL image.
IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def _feature(kind: pa.DataType) -> dict[str, Any]:
    if kind == IMAGE:
        return {"_type": "Image"}
    if pa.types.is_list(kind):
        return {"_type": "Sequence", "feature": _feature(kind.value_type)}
    name = {
        pa.string(): "string",
        pa.bool_(): "bool",
        pa.int64(): "int64",
        pa.float64(): "float64",
    }[kind]
    return {"_type": "Value", "dtype": name}


def hf_schema(fields: list[tuple[str, pa.DataType]]) -> pa.Schema:
    """A schema whose `huggingface` metadata names image columns as `datasets.Image` features."""
    features = {name: _feature(kind) for name, kind in fields}
    return pa.schema(fields, metadata={"huggingface": json.dumps({"info": {"features": features}})})


class Sink:
    """Appends rows to one parquet file, `group` rows per row group, writing in the background.

    pyarrow releases the GIL while it encodes and writes, so the next row group is built
    while the last one is written. `large` columns (megabytes of base64 or image bytes)
    skip dictionary encoding and min/max statistics, which cost time and help no reader.
    """

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        group: int,
        compression: str = "snappy",
        large: tuple[str, ...] = (),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.schema, self.group = path, schema, group
        small = [name for name in schema.names if name not in large]
        self.writer = pq.ParquetWriter(
            path, schema, compression=compression, use_dictionary=small, write_statistics=small
        )
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.pending: list[dict[str, Any]] = []
        self.in_flight: Future | None = None
        self.row_groups = self.rows = 0

    def add(self, row: dict[str, Any]) -> None:
        self.pending.append(row)
        if len(self.pending) >= self.group:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            table = pa.Table.from_pylist(self.pending, schema=self.schema)
            self._wait()
            self.in_flight = self.pool.submit(self.writer.write_table, table)
            self.row_groups += 1
            self.rows += len(self.pending)
            self.pending = []

    def _wait(self) -> None:
        if self.in_flight is not None:
            self.in_flight.result()
            self.in_flight = None

    def close(self) -> None:
        try:
            self.flush()
            self._wait()
        finally:
            self.pool.shutdown()
            self.writer.close()


# Hugging Face's sharded layout (`hf`, `pickapic`, `trl-pref`): rows per file and per row group.
ROWS_PER_SHARD = 1000
ROWS_PER_GROUP = 100


def write_split(
    root: Path,
    folder: str,
    split: str,
    items: list,
    make_row: Callable[[Any], dict[str, Any]],
    schema: pa.Schema,
    *,
    large: tuple[str, ...] = (),
    each: Callable[[int], None] | None = None,
) -> list[str]:
    """One split of one config as `folder/<split>-00000-of-0000N.parquet` shards (the file names
    `load_dataset` reads as that split); rows are made one at a time, `each(1)` after each."""
    shards = -(-len(items) // ROWS_PER_SHARD)
    paths = []
    for index in range(shards):
        path = f"{folder}/{split}-{index:05d}-of-{shards:05d}.parquet"
        sink = Sink(root / path, schema, ROWS_PER_GROUP, large=large)
        try:
            for item in items[index * ROWS_PER_SHARD : (index + 1) * ROWS_PER_SHARD]:
                sink.add(make_row(item))
                if each is not None:
                    each(1)
        finally:
            sink.close()
        paths.append(path)
    return paths


def image_cell(data: bytes, sha256: str) -> dict[str, Any]:
    return {"bytes": data, "path": f"{sha256}.png"}
