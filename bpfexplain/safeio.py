"""Every file bpfexplain writes, and every small file it trusts, goes through here.

bpfexplain often runs as root, in directories other people can write (``/tmp``, a
colleague's home).  Three rules follow, kept in this one module so that no writer
can forget one:

* **No symlink another user owns is followed**, anywhere in a path: paths are walked
  one component at a time from a directory file descriptor (``openat`` with
  ``O_NOFOLLOW``), and a symlink is only followed when it belongs to us or to root.
  The file is then created and renamed *relative to the directory descriptor* the walk
  ended in, so swapping a directory for a symlink after the check changes nothing.
* **Only regular files**: a FIFO, device or socket planted where an output should go
  is refused (it would block ``open`` or write into a device); ``-`` means stdout for
  whoever wants a stream.
* **New files only**: the content goes to a fresh temporary file (``O_CREAT|O_EXCL``,
  mode 0600 for logs, 0644 for reports) that is renamed over the name, so an existing
  file or a symlink at that name is replaced, never written through.

Outputs are checked with :func:`check_output` before any parsing or tracing, so a
mistake costs a second, not a long run; every refusal is an :class:`UnsafePath`
(an input error, exit 3) with one line saying why.

Small files bpfexplain *reads* and trusts (sidecars) are opened with
:func:`read_trusted`: no symlink at the end, a regular file, an owner we trust, and a
size cap, all checked with ``fstat`` on the opened descriptor.  Its private cache
directory (the analysed grammar, strace's version) is opened and read by the same
rules in :mod:`bpfexplain.private`, which needs nothing but ``os`` (``run`` reads it
before strace starts).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections import deque
from dataclasses import dataclass
from typing import BinaryIO, Literal

from bpfexplain.errors import InputError
from bpfexplain.private import DIR_FLAGS, replace_fd

LOG_MODE = 0o600
"""Saved logs hold ``read()`` buffers of the traced program: only for their owner."""

REPORT_MODE = 0o644
"""Stories, pictures and sidecars: meant to be shared."""

MAX_SYMLINKS = 40
"""As the kernel's own limit (ELOOP)."""

FileKind = Literal["missing", "regular", "directory", "fifo", "device", "socket", "other"]


class UnsafePath(InputError):
    """A path bpfexplain refuses to write (or trust): a symlink of another user, a FIFO,
    a missing directory...  An input error: exit 3 from every command."""


def _kind(mode: int) -> FileKind:
    if stat.S_ISREG(mode):
        return "regular"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "other"


def _trusted_owner(uid: int) -> bool:
    return uid in (os.geteuid(), 0)


@dataclass
class Place:
    """Where a path leads: an open descriptor of its directory and the last name in it.

    ``dir_fd`` was reached without following any symlink another user owns; ``kind``
    is what the name holds now (``missing`` for a new file).
    """

    dir_fd: int
    name: str
    kind: FileKind
    shown: str

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.dir_fd)


def _refuse(shown: str, why: str) -> UnsafePath:
    return UnsafePath(f"{shown}: {why}")


def locate(path: str | os.PathLike[str]) -> Place:
    """Walk ``path`` without following a symlink another user owns; see :class:`Place`.

    Symlinks of our own or of root are followed (a user's ``~/out -> /data/out`` is
    theirs to make); ``..`` is resolved as the kernel does, after the symlink.
    """
    shown = os.fspath(path)
    if not shown:
        raise _refuse("''", "empty file name")
    try:
        fd = os.open("/" if shown.startswith("/") else ".", DIR_FLAGS)
    except OSError as exc:
        raise _refuse(shown, f"cannot open the current directory ({exc.strerror})") from None
    parts = deque(p for p in shown.split("/") if p not in ("", "."))
    if not parts or shown.endswith("/"):
        os.close(fd)
        raise _refuse(shown, "is a directory")
    hops = 0
    try:
        while True:
            name = parts.popleft()
            last = not parts
            if name == "..":
                if last:
                    raise _refuse(shown, "is a directory")
                fd = _step(fd, "..", shown)
                continue
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                if last:
                    return Place(fd, name, "missing", shown)
                raise _refuse(shown, f"no such directory {name!r}") from None
            except PermissionError:
                raise _refuse(shown, "permission denied") from None
            except OSError as exc:
                raise _refuse(shown, exc.strerror or str(exc)) from None
            if stat.S_ISLNK(info.st_mode):
                if not _trusted_owner(info.st_uid):
                    raise _refuse(shown, f"{name!r} is a symlink owned by uid {info.st_uid}, "
                                  "another user; not followed (remove it or give the "
                                  "real path)")
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise _refuse(shown, "too many levels of symbolic links")
                target = os.readlink(name, dir_fd=fd)
                if target.startswith("/"):
                    fd = replace_fd(fd, os.open("/", DIR_FLAGS))
                parts.extendleft(reversed([p for p in target.split("/") if p not in ("", ".")]))
                if not parts:  # a link to "/" or "."
                    raise _refuse(shown, "is a directory")
                continue
            if last:
                return Place(fd, name, _kind(info.st_mode), shown)
            if not stat.S_ISDIR(info.st_mode):
                raise _refuse(shown, f"{name!r} is not a directory")
            fd = _step(fd, name, shown)
    except BaseException:
        os.close(fd)
        raise


def _step(fd: int, name: str, shown: str) -> int:
    try:
        new = os.open(name, DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
    except PermissionError:
        raise _refuse(shown, "permission denied") from None
    except OSError as exc:
        raise _refuse(shown, exc.strerror or str(exc)) from None
    return replace_fd(fd, new)


def _writable_dir(fd: int) -> bool:
    # access() through the descriptor's /proc link: the directory we hold, not a path
    # that could have changed since.
    return os.access(f"/proc/self/fd/{fd}", os.W_OK | os.X_OK)


def check_output(path: str | os.PathLike[str]) -> None:
    """Refuse, before any work, an output that could not or should not be written."""
    if os.fspath(path) == "-":
        return
    place = locate(path)
    try:
        _check_place(place)
    finally:
        place.close()


def _check_place(place: Place) -> None:
    if place.kind == "directory":
        raise _refuse(place.shown, "is a directory")
    if place.kind not in ("missing", "regular"):
        raise _refuse(place.shown, f"is a {place.kind}, not a regular file; bpfexplain "
                      "writes only regular files (use '-' for stdout)")
    if not _writable_dir(place.dir_fd):
        raise _refuse(place.shown, "permission denied (the directory is not writable)")


def _temp_in(place: Place, mode: int) -> tuple[int, str]:
    """A new, empty file beside ``place`` that nobody else could have prepared."""
    for _ in range(100):
        temp = f".{place.name[:200]}.bpfexplain-{secrets.token_hex(4)}"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, mode, dir_fd=place.dir_fd)
        except FileExistsError:
            continue
        except OSError as exc:
            raise _refuse(place.shown, f"cannot write ({exc.strerror})") from None
        os.fchmod(fd, mode)  # exactly this mode, whatever the umask allowed
        return fd, temp
    raise _refuse(place.shown, "cannot create a temporary file beside it")


def make_dirs(path: str | os.PathLike[str], *, mode: int = 0o755) -> None:
    """Create the directory ``path`` and its missing parents, like ``mkdir -p``.

    Each level is reached through :func:`locate`, so a symlink another user planted
    anywhere in the path is refused rather than followed: ``demo --site`` run as root
    must not create its course inside a directory someone else pointed it at.
    """
    shown = os.fspath(path)
    parts = [p for p in shown.split("/") if p not in ("", ".")]
    if not parts:
        return  # "/" or ".": exists
    prefix = "/" if shown.startswith("/") else ""
    for depth in range(1, len(parts) + 1):
        place = locate(prefix + "/".join(parts[:depth]))
        try:
            if place.kind == "missing":
                try:
                    os.mkdir(place.name, mode, dir_fd=place.dir_fd)
                except FileExistsError:
                    pass  # made meanwhile: checked by the next locate
                except OSError as exc:
                    raise _refuse(place.shown, f"cannot create ({exc.strerror})") from None
                continue
            if place.kind != "directory":
                raise _refuse(place.shown, f"is a {place.kind}, not a directory")
        finally:
            place.close()
    final = locate(prefix + "/".join(parts))
    try:
        if final.kind != "directory":
            raise _refuse(shown, f"is a {final.kind}, not a directory")
    finally:
        final.close()


def write_file(path: str | os.PathLike[str], data: bytes | str, *,
               mode: int = REPORT_MODE) -> None:
    """Write ``data`` to a fresh file renamed over ``path`` (see the module's rules)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    place = locate(path)
    try:
        _check_place(place)
        fd, temp = _temp_in(place, mode)
        try:
            with open(fd, "wb", closefd=True) as out:
                out.write(payload)
            os.rename(temp, place.name, src_dir_fd=place.dir_fd, dst_dir_fd=place.dir_fd)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=place.dir_fd)
            if isinstance(exc, OSError):
                raise _refuse(place.shown, f"cannot write ({exc.strerror})") from None
            raise
    finally:
        place.close()


def create_stream(path: str | os.PathLike[str], *, mode: int = LOG_MODE) -> BinaryIO:
    """A new file at ``path`` to write as things happen (``--save``'s log).

    The fresh file is renamed into place at once rather than at the end: its content
    must survive bpfexplain being killed.  Unbuffered, so every write reaches the file.
    """
    place = locate(path)
    try:
        _check_place(place)
        fd, temp = _temp_in(place, mode)
        try:
            os.rename(temp, place.name, src_dir_fd=place.dir_fd, dst_dir_fd=place.dir_fd)
        except OSError as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=place.dir_fd)
            raise _refuse(place.shown, f"cannot write ({exc.strerror})") from None
        return open(fd, "wb", buffering=0, closefd=True)  # the caller closes it
    finally:
        place.close()


# --------------------------------------------------------------------------------
# reading files bpfexplain trusts


class Untrusted(Exception):
    """A file that exists but is not to be trusted (owner, type, size); the message says why."""


def read_trusted(path: str | os.PathLike[str], *, limit: int,
                 owners: tuple[int, ...] | None = None) -> bytes | None:
    """The bytes of a small regular file, or None when there is none.

    ``owners``: uids allowed to own it (default: us and root).  Checked on the
    descriptor itself, after opening it without following a final symlink and without
    blocking on a FIFO.
    """
    allowed = owners if owners is not None else (os.geteuid(), 0)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the name is a symlink
            raise Untrusted("a symlink (not followed)") from None
        raise Untrusted(exc.strerror or str(exc)) from None
    with open(fd, "rb", closefd=True) as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Untrusted(f"a {_kind(info.st_mode)}, not a regular file")
        if info.st_uid not in allowed:
            raise Untrusted(f"owned by uid {info.st_uid}, neither you nor root")
        # Too big is bad data (exit 3), not a file to skip quietly.
        if info.st_size > limit:
            raise InputError(f"{os.fspath(path)}: {info.st_size:,} bytes, more than the "
                             f"{limit:,} allowed")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{os.fspath(path)}: more than the {limit:,} bytes allowed")
    return data


def read_named(path: str | os.PathLike[str], *, limit: int) -> bytes:
    """A file the user named on the command line (a pipe is fine), at most ``limit`` bytes."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise InputError(f"{os.fspath(path)}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{os.fspath(path)}: is a directory") from None
    except OSError as exc:
        raise InputError(f"{os.fspath(path)}: cannot read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise InputError(f"{os.fspath(path)}: more than {limit:,} bytes; not read")
    return data


# --------------------------------------------------------------------------------
# a private directory (the caches): found, opened and read in bpfexplain.private


def write_private(dir_fd: int, name: str, data: bytes) -> None:
    """Replace ``name`` in a private directory by a new 0600 file; best effort."""
    place = Place(dir_fd, name, "missing", name)
    try:
        fd, temp = _temp_in(place, LOG_MODE)
    except UnsafePath:
        return
    try:
        with open(fd, "wb", closefd=True) as out:
            out.write(data)
        os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
