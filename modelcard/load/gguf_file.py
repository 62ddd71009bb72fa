"""Read a GGUF file's header, metadata and tensor table within bounds, before any library touches it.

The layout is llama.cpp's GGUF (versions 2 and 3, little-endian): the magic `GGUF`, the version, the tensor and
metadata counts, the metadata (key, type, value), then the tensor table (name, dimensions, type, offset), then the
aligned tensor data. Every count and length is checked against what is left of the file before anything is
read, so a truncated file, absurd counts, a string that runs past the end or an array of 10^9 items is one
BadInput line; a string value is kept up to MAX_STRING bytes and an array's items only when it is short (the
token lists of a vocabulary are counted, not kept). Nothing of the tensor data is read. Type names and block
sizes come from the `gguf` package (optional: `modelcard[gguf]`)."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from modelcard.base.errors import BadInput

MAGIC = b"GGUF"
VERSIONS = (2, 3)
MAX_STRING = 1 << 20  # a metadata string kept in the record (chat templates are a few KiB; the largest ~100 KiB)
MAX_KEY = 1 << 16
MAX_KEPT_ITEMS = 64  # arrays at most this long keep their items (layer patterns, rope sections)
MAX_DIMS = 8
DEFAULT_ALIGNMENT = 32
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9
SHARD = re.compile(r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$")


@dataclass
class ArrayValue:
    """A metadata array: its item type and length; its items when it is short enough to keep."""

    item_type: int
    length: int
    items: list[Any] | None = None


@dataclass
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # GGUF order: the fastest-varying dimension first
    type_id: int
    offset: int

    @property
    def elements(self) -> int:
        count = 1
        for size in self.shape:
            count *= size
        return count


@dataclass
class GgufHeader:
    """What a GGUF file says about itself, without its tensor data."""

    path: Path
    version: int
    size: int  # bytes of the file
    metadata: dict[str, Any] = field(default_factory=dict)
    tensors: list[TensorInfo] = field(default_factory=list)
    data_offset: int = 0

    @property
    def architecture(self) -> str | None:
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else None


class _Reader:
    """Reads little-endian values from a file, checking each length against the bytes left."""

    def __init__(self, handle: BinaryIO, size: int, path: Path) -> None:
        self.handle, self.size, self.path = handle, size, path

    @property
    def left(self) -> int:
        return self.size - self.handle.tell()

    def fail(self, problem: str) -> BadInput:
        return BadInput(self.path, f"not a readable GGUF file: {problem}")

    def take(self, count: int, what: str) -> bytes:
        if count > self.left:
            raise self.fail(f"{what} needs {count:,} bytes at offset {self.handle.tell():,}, past the end of the file "
                            f"({self.size:,} bytes)")
        return self.handle.read(count)

    def unpack(self, fmt: str, what: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]

    def skip(self, count: int, what: str) -> None:
        if count > self.left:
            raise self.fail(f"{what} runs past the end of the file")
        self.handle.seek(count, 1)

    def string(self, what: str, keep: int = MAX_STRING) -> str | None:
        length = self.unpack("<Q", what)
        if length > self.left:
            raise self.fail(f"{what} claims {length:,} bytes; {self.left:,} are left in the file")
        if length > keep:
            self.skip(length, what)
            return None
        return self.take(length, what).decode("utf-8", errors="replace")

    def value(self, type_id: int, what: str) -> Any:
        if type_id in SCALARS:
            return self.unpack(SCALARS[type_id], what)
        if type_id == STRING:
            return self.string(what)
        if type_id == ARRAY:
            item_type = self.unpack("<I", what)
            length = self.unpack("<Q", what)
            smallest = 8 if item_type == STRING else struct.calcsize(SCALARS.get(item_type, "<B"))
            if item_type == ARRAY or (item_type not in SCALARS and item_type != STRING):
                raise self.fail(f"{what} is an array of type {item_type}, which GGUF does not define")
            if length * smallest > self.left:
                raise self.fail(f"{what} claims {length:,} items; the {self.left:,} bytes left cannot hold them")
            if length <= MAX_KEPT_ITEMS:
                return ArrayValue(item_type, length, [self.value(item_type, what) for _ in range(length)])
            if item_type == STRING:
                for _ in range(length):
                    self.skip(self.unpack("<Q", what), what)
            else:
                self.skip(length * smallest, what)
            return ArrayValue(item_type, length)
        raise self.fail(f"{what} has value type {type_id}, which GGUF does not define")


def read_header(path: Path) -> GgufHeader:
    """The header, metadata and tensor table of one GGUF file, read within bounds.

    Args:
        path: the .gguf file.

    Returns:
        The header.

    Raises:
        BadInput: the file cannot be opened, or is not a GGUF file this reader takes (one line, naming the file
            and the problem).
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below; the reader needs the open handle
    except OSError as error:
        raise BadInput(path, f"cannot read: {error.strerror or error}") from None
    with handle:
        size = path.stat().st_size
        reader = _Reader(handle, size, path)
        magic = handle.read(4)
        if magic != MAGIC:
            raise reader.fail(f"it starts with {magic!r}, not {MAGIC!r}")
        version = reader.unpack("<I", "the version")
        if version not in VERSIONS:
            swapped = struct.unpack(">I", struct.pack("<I", version))[0]
            if swapped in VERSIONS:
                raise reader.fail("a big-endian GGUF; modelcard reads little-endian files, as llama.cpp writes them")
            raise reader.fail(f"version {version}; modelcard reads versions {', '.join(map(str, VERSIONS))}")
        tensor_count = reader.unpack("<Q", "the tensor count")
        kv_count = reader.unpack("<Q", "the metadata count")
        # the smallest metadata entry is 8 + 1 + 4 + 1 bytes, the smallest tensor entry 8 + 1 + 4 + 8 + 4 + 8
        if kv_count * 14 > reader.left:
            raise reader.fail(f"the header claims {kv_count:,} metadata entries; the file cannot hold them")
        if tensor_count * 33 > reader.left:
            raise reader.fail(f"the header claims {tensor_count:,} tensors; the file cannot hold them")
        header = GgufHeader(path, version, size)
        for index in range(kv_count):
            key = reader.string(f"metadata key {index}", keep=MAX_KEY)
            if key is None:
                raise reader.fail(f"metadata key {index} is longer than {MAX_KEY:,} bytes")
            type_id = reader.unpack("<I", f"the type of {key}")
            header.metadata[key] = reader.value(type_id, key)
        for index in range(tensor_count):
            name = reader.string(f"tensor name {index}", keep=MAX_KEY)
            if name is None:
                raise reader.fail(f"tensor name {index} is longer than {MAX_KEY:,} bytes")
            dims = reader.unpack("<I", f"the dimensions of {name}")
            if not 0 < dims <= MAX_DIMS:
                raise reader.fail(f"tensor {name} has {dims:,} dimensions")
            shape = tuple(reader.unpack("<Q", f"the shape of {name}") for _ in range(dims))
            type_id = reader.unpack("<I", f"the type of {name}")
            offset = reader.unpack("<Q", f"the offset of {name}")
            header.tensors.append(TensorInfo(name, shape, type_id, offset))
        alignment = header.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
        if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
            raise reader.fail(f"general.alignment is {alignment!r}, not a power of two")
        header.data_offset = -(-handle.tell() // alignment) * alignment
        _check_tensor_data(header, reader)
    return header


def _check_tensor_data(header: GgufHeader, reader: _Reader) -> None:
    """Each tensor's data lies inside the file (a truncated download fails here, not inside a library)."""
    for tensor in header.tensors:
        nbytes = tensor_bytes(tensor)
        if nbytes is None:
            continue
        end = header.data_offset + tensor.offset + nbytes
        if end > header.size and not shard_parts(header.path):
            raise reader.fail(f"tensor {tensor.name} ends at byte {end:,}, past the end of the file "
                              f"({header.size:,} bytes): the file is truncated")


def tensor_bytes(tensor: TensorInfo) -> int | None:
    """Bytes of a tensor's data from its type's block size; None for a type the `gguf` package does not know."""
    sizes = quant_sizes()
    if tensor.type_id not in sizes:
        return None
    block, type_size = sizes[tensor.type_id]
    return tensor.elements // block * type_size


def quant_sizes() -> dict[int, tuple[int, int]]:
    """{type id: (elements per block, bytes per block)} from the `gguf` package."""
    import gguf

    return {int(kind): sizes for kind, sizes in gguf.GGML_QUANT_SIZES.items()}


def type_name(type_id: int) -> str:
    """The ggml type's name (Q4_1, Q8_0, F16, ...), or `type <id>` for one the `gguf` package does not know."""
    import gguf

    try:
        return gguf.GGMLQuantizationType(type_id).name
    except ValueError:
        return f"type {type_id}"


def shard_parts(path: Path) -> list[Path]:
    """All parts of a sharded GGUF (`name-00001-of-00003.gguf`), in order; empty for a single file."""
    match = SHARD.match(path.name)
    if not match:
        return []
    count = int(match["count"])
    return [path.with_name(f"{match['stem']}-{index:05d}-of-{count:05d}.gguf") for index in range(1, count + 1)]
