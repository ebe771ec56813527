"""Read an untrusted ZIP: refuse unsafe entries, then extract inside one folder with counted bytes.

Every entry is checked before a single byte is written: traversal (``../``), absolute paths, drive
letters, symlinks, encryption, nested archives, duplicate names, and the declared sizes against the
bomb limits. Extraction then counts the bytes it really writes, because declared sizes can lie.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

from .limits import IngestLimits

CHUNK = 1024 * 1024
# Entries smaller than this are exempt from the per-entry ratio check: a few KB of a repetitive
# MTL can legitimately compress 100:1. The whole-archive ratio still applies to them.
RATIO_CHECK_MIN_BYTES = 1024 * 1024
NESTED_ARCHIVE_SUFFIXES = (".zip", ".7z", ".rar", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".zst")
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
# Finder and Windows leave these beside the real files; they are never part of a model.
IGNORED_PREFIXES = ("__MACOSX/",)
IGNORED_BASENAMES = {".ds_store", "thumbs.db", "desktop.ini"}


def _refuse(message: str) -> DxglError:
    return DxglError(ErrorCode.INVALID_MODEL, message)


def safe_entry_parts(name: str) -> tuple[str, ...]:
    """The path components of a ZIP entry name, or DxglError when the name could escape the folder.

    Backslashes count as separators because Windows tools write them and Windows readers obey them.
    """
    if "\x00" in name:
        raise _refuse(f"ZIP entry {name!r} has a NUL byte in its name")
    unified = name.replace("\\", "/")
    if unified.startswith("/"):
        raise _refuse(f"ZIP entry {name!r} has an absolute path")
    if DRIVE_LETTER.match(unified):
        raise _refuse(f"ZIP entry {name!r} names a drive letter")
    parts = tuple(p for p in unified.split("/") if p not in ("", "."))
    if any(p == ".." for p in parts):
        raise _refuse(f"ZIP entry {name!r} climbs out of the archive with '..'")
    if any(":" in p for p in parts):
        # NTFS alternate data streams and odd drive spellings: no model needs a colon in a path.
        raise _refuse(f"ZIP entry {name!r} has a ':' in its path")
    return parts


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return info.create_system == 3 and stat.S_ISLNK(mode)


def _is_ignored(parts: tuple[str, ...]) -> bool:
    joined = "/".join(parts) + "/"
    return joined.startswith(IGNORED_PREFIXES) or parts[-1].lower() in IGNORED_BASENAMES


def _check_entries(zf: zipfile.ZipFile, limits: IngestLimits) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
    infos = zf.infolist()
    if len(infos) > limits.max_zip_entries:
        raise _refuse(f"ZIP has {len(infos)} entries; the limit is {limits.max_zip_entries}")
    seen: set[str] = set()
    files: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
    total_declared = 0
    total_compressed = 0
    for info in infos:
        parts = safe_entry_parts(info.filename)
        if _is_symlink(info):
            raise _refuse(f"ZIP entry {info.filename!r} is a symbolic link; links are not accepted")
        if info.flag_bits & 0x1:
            raise _refuse(f"ZIP entry {info.filename!r} is encrypted")
        if info.is_dir() or not parts:
            continue
        key = "/".join(parts).lower()
        if key in seen:
            raise _refuse(f"ZIP has two entries named {info.filename!r}")
        seen.add(key)
        if parts[-1].lower().endswith(".usdz"):
            # A USDZ is itself a ZIP: one model per upload, so it comes on its own.
            raise DxglError(
                ErrorCode.INVALID_FORMAT,
                f"ZIP entry {info.filename!r} is a USDZ inside the ZIP; upload the .usdz itself",
            )
        if parts[-1].lower().endswith(NESTED_ARCHIVE_SUFFIXES):
            raise _refuse(
                f"ZIP entry {info.filename!r} is an archive inside the archive; nested archives are not accepted"
            )
        if info.file_size > RATIO_CHECK_MIN_BYTES and info.file_size > limits.max_compression_ratio * max(
            info.compress_size, 1
        ):
            raise _refuse(
                f"ZIP entry {info.filename!r} expands {info.file_size / max(info.compress_size, 1):.0f}:1; "
                f"the limit is {limits.max_compression_ratio:.0f}:1 (ZIP bomb?)"
            )
        total_declared += info.file_size
        total_compressed += info.compress_size
        if total_declared > limits.max_expanded_bytes:
            raise _refuse(f"ZIP expands to more than {limits.max_expanded_bytes // 1_000_000} MB")
        files.append((info, parts))
    if total_declared > RATIO_CHECK_MIN_BYTES and total_declared > limits.max_compression_ratio * max(
        total_compressed, 1
    ):
        raise _refuse(f"ZIP expands more than {limits.max_compression_ratio:.0f}:1 overall (ZIP bomb?)")
    return files


def _open_new_file(root: Path, parts: tuple[str, ...]) -> int:
    """Create root/parts... for writing, refusing to pass through or create any symlink."""
    directory = root
    for part in parts[:-1]:
        directory = directory / part
        if directory.is_symlink():
            raise _refuse("extraction met a symbolic link")
        directory.mkdir(exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    return os.open(directory / parts[-1], flags, 0o600)


def extract_zip(zip_path: Path, dest: Path, limits: IngestLimits) -> list[PurePosixPath]:
    """Check every entry, then extract the files into ``dest`` (which must be new and empty).

    Returns the extracted files as relative posix paths. Finder/Windows clutter is skipped.
    """
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, ValueError) as exc:
        raise _refuse(f"the ZIP archive is damaged: {exc}") from None
    except OSError:  # its message would name the internal temporary file
        raise _refuse("the ZIP archive is damaged or unreadable") from None
    dest.mkdir(parents=True, exist_ok=False)
    root = dest.resolve()
    extracted: list[PurePosixPath] = []
    written_total = 0
    with zf:
        for info, parts in _check_entries(zf, limits):
            if _is_ignored(parts):
                continue
            fd = _open_new_file(root, parts)
            written = 0
            try:
                with os.fdopen(fd, "wb") as out, zf.open(info) as src:
                    first = True
                    while chunk := src.read(CHUNK):
                        if first and chunk.startswith(ZIP_MAGICS):
                            raise _refuse(
                                f"ZIP entry {info.filename!r} is a ZIP inside the ZIP; nested archives are not accepted"
                            )
                        first = False
                        written += len(chunk)
                        written_total += len(chunk)
                        # Declared sizes were checked; these guard against headers that lie.
                        if written > info.file_size or written_total > limits.max_expanded_bytes:
                            raise _refuse(f"ZIP entry {info.filename!r} expands beyond its declared size (ZIP bomb?)")
                        out.write(chunk)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                raise _refuse(f"ZIP entry {info.filename!r} is damaged: {exc}") from None
            extracted.append(PurePosixPath(*parts))
    return extracted
