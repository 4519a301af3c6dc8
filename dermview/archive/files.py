"""Reading bytes from what a user names: only regular files and zip members, always with a size cap.

Every read of a file or a zip member in dermview goes through here, so the same limits hold for the
archive and for query images: a FIFO, a device (/dev/zero) or a gigabyte file is refused before it is
read; a zip member is refused if it is encrypted, uses a compression method Python cannot inflate
(Deflate64, ...), or inflates past the cap, whatever its header claims (a zip bomb lies there).
"""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from pathlib import Path
from collections.abc import Callable

from ..errors import DermviewError, ImageDecodeError

# No dermatoscopic image comes close (a 50-megapixel uncompressed TIFF is 150 MB; the archive's are
# 0.1 MB); the cap keeps a query's peak memory well under 1 GB together with MAX_PIXELS in imaging.
MAX_FILE_BYTES = 64 * 1024 * 1024
_CHUNK = 1 << 20
# Methods zipfile can inflate; 9 (Deflate64) and the rest raise NotImplementedError deep inside.
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate",
                zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}
_ZIP_METHOD_NAMES = {9: "Deflate64", 10: "PKWARE implode", 6: "implode", 98: "PPMd", 93: "Zstandard",
                     95: "xz", 97: "WavPack", 99: "AES encryption"}


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def read_regular_file(path: str | Path, *, limit: int = MAX_FILE_BYTES, what: str | None = None,
                      error: Callable[[str], DermviewError] = ImageDecodeError) -> bytes:
    """The bytes of ``path`` if it is a regular file (symlinks followed) of at most ``limit`` bytes.

    ``what`` names the file in messages (default: its name); ``error`` is the exception type raised,
    with a complete sentence.
    """
    path = Path(path)
    name = what or path.name
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        broken = " (a link whose target is missing)" if os.path.islink(path) else ""
        raise error(f"{name}: the file does not exist{broken}.") from exc
    except OSError as exc:
        raise error(f"{name}: cannot read the file ({exc.strerror or exc}).") from exc
    if not stat.S_ISREG(st.st_mode):
        kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a pipe (FIFO)" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise error(f"{name}: is {kind}, not a regular file; dermview reads only ordinary files.")
    if st.st_size > limit:
        raise error(f"{name}: the file is too large ({_mb(st.st_size)}; at most {_mb(limit)} are read).")
    try:
        # O_NONBLOCK: should the file be swapped for a FIFO after the check, open() still returns.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise error(f"{name}: is not a regular file; dermview reads only ordinary files.")
            data = handle.read(limit + 1)
    except OSError as exc:
        raise error(f"{name}: cannot read the file ({exc.strerror or exc}).") from exc
    if len(data) > limit:
        raise error(f"{name}: the file is too large (more than {_mb(limit)}).")
    return data


def zip_member_problem(info: zipfile.ZipInfo, limit: int = MAX_FILE_BYTES) -> str | None:
    """Why a member cannot be read, judged from its header alone; None if it may be tried."""
    if info.flag_bits & 0x1:
        return "is encrypted (password-protected); unpack it with the password and open the image itself"
    if info.compress_type not in _ZIP_METHODS:
        method = _ZIP_METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
        return (f"is compressed with {method}, which dermview cannot unpack; re-create the zip with "
                "ordinary (deflate) compression or unpack it first")
    if info.file_size > limit:
        return f"is too large ({_mb(info.file_size)} unpacked; at most {_mb(limit)} are read)"
    return None


def read_zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, *, zip_name: str,
                    limit: int = MAX_FILE_BYTES) -> bytes:
    """The member's bytes, inflated in chunks and cut off at ``limit``: the declared size is not trusted.

    Raises :class:`ImageDecodeError` naming the member and the zip.
    """
    member = info.filename.rsplit("/", 1)[-1]
    problem = zip_member_problem(info, limit)
    if problem:
        raise ImageDecodeError(f"{member} inside {zip_name}: {problem}.")
    parts: list[bytes] = []
    total = 0
    try:
        with zf.open(info) as stream:
            while True:
                block = stream.read(_CHUNK)
                if not block:
                    break
                total += len(block)
                if total > limit:
                    raise ImageDecodeError(
                        f"{member} inside {zip_name}: unpacks to more than {_mb(limit)} although its header "
                        f"says {_mb(info.file_size)}; refused as a possible zip bomb.")
                parts.append(block)
    except ImageDecodeError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise ImageDecodeError(f"{member}: damaged inside {zip_name} ({exc}).") from exc
    return b"".join(parts)
