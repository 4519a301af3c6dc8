"""Hostile inputs made on the fly: zips with encrypted or Deflate64 members, zip bombs, FIFOs."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path


def patch_zip_member(path: Path, member: str, *, flag_bits: int | None = None, method: int | None = None,
                     file_size: int | None = None) -> None:
    """Rewrite one member's headers in place, as an encrypting or Deflate64 zip tool would have written
    them (Python's zipfile can write neither)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    local = info.header_offset
    assert data[local:local + 4] == b"PK\x03\x04"
    start = 0  # this member's central-directory record
    while True:
        central = data.find(b"PK\x01\x02", start)
        assert central >= 0, "central directory record not found"
        name_len = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46:central + 46 + name_len]).decode() == member:
            break
        start = central + 4
    if flag_bits is not None:
        struct.pack_into("<H", data, local + 6, flag_bits)
        struct.pack_into("<H", data, central + 8, flag_bits)
    if method is not None:
        struct.pack_into("<H", data, local + 8, method)
        struct.pack_into("<H", data, central + 10, method)
    if file_size is not None:
        struct.pack_into("<I", data, local + 22, file_size)
        struct.pack_into("<I", data, central + 24, file_size)
    path.write_bytes(bytes(data))


def zip_of(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def zip_bomb(path: Path, name: str = "bomb.jpg", megabytes: int = 200) -> Path:
    """A member of ``megabytes`` of zeros: about 0.2 MB compressed, written in blocks (no big buffer)."""
    block = b"\0" * (1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open(name, "w", force_zip64=True) as stream:
        for _ in range(megabytes):
            stream.write(block)
    return path
