"""bpfexplain's private cache directory: found, opened and read with ``os`` alone.

The rules are :mod:`bpfexplain.safeio`'s (no symlink followed, only regular files,
an owner we trust, a size cap, all checked on the opened descriptor); this part of
them lives apart because ``run`` reads strace's cached version before it starts
strace, where importing safeio (dataclasses, pathlib, secrets) would cost the loader
milliseconds.  Writing into the directory is :func:`bpfexplain.safeio.write_private`.
"""

from __future__ import annotations

import os
import stat

DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
"""How every directory on a checked walk is opened (here and in safeio)."""


def replace_fd(old: int, new: int) -> int:
    """``new``, with ``old`` closed: one step further down a walk."""
    os.close(old)
    return new


def cache_dir() -> str | None:
    """The private cache directory (which may not exist yet), or None for no cache.

    Root takes its own home from the password database, never ``$HOME`` or
    ``$XDG_CACHE_HOME``: under ``sudo -E`` those point into a user's home, where a
    cache would be theirs to swap and where a root-owned ``~/.cache`` would break
    their own programs.
    """
    if os.geteuid() == 0:
        import pwd  # a C module

        try:
            home = pwd.getpwuid(0).pw_dir
        except (KeyError, OSError):
            return None
        return os.path.join(home, ".cache", "bpfexplain") if home.startswith("/") else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "bpfexplain")


def open_private_dir(path: str, *, create: int = 0) -> int | None:
    """An ``O_PATH`` descriptor of ``path`` if it is ours alone, else None.

    Every directory on the way must belong to us or root and, when others may write
    it, be sticky (``/tmp``) so nobody can swap what is in it; the last one must be
    ours and writable by nobody else.  The last ``create`` components are made (0700)
    when missing.  No symlink is followed at all.
    """
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not path.startswith("/") or ".." in parts or not parts:
        return None
    try:
        fd = os.open("/", DIR_FLAGS)
    except OSError:
        return None
    keep = False
    try:
        for index, name in enumerate(parts):
            if not _guarded(os.fstat(fd)):
                return None
            try:
                new = os.open(name, DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if index < len(parts) - create:
                    return None
                os.mkdir(name, 0o700, dir_fd=fd)
                new = os.open(name, DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            fd = replace_fd(fd, new)
        info = os.fstat(fd)
        if info.st_uid != os.geteuid() or info.st_mode & 0o022:
            return None
        keep = True
        return fd
    except OSError:
        return None  # a symlink (ELOOP/ENOTDIR), no permission, a full disk...
    finally:
        if not keep:
            os.close(fd)


def _guarded(info: os.stat_result) -> bool:
    """A directory nobody but us and root can change the entries of."""
    return info.st_uid in (os.geteuid(), 0) and (
        not info.st_mode & 0o022 or bool(info.st_mode & stat.S_ISVTX))


def read_private(dir_fd: int, name: str, *, limit: int) -> bytes | None:
    """A file of ours in a private directory; None when missing or not plainly ours."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=dir_fd)
    except OSError:
        return None
    with open(fd, "rb", closefd=True) as f:
        info = os.fstat(fd)
        if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid()
                or info.st_mode & 0o022 or info.st_size > limit):
            return None
        try:
            data = f.read(limit + 1)
        except OSError:
            return None  # a cache that cannot be read is no cache
    return data if len(data) <= limit else None
