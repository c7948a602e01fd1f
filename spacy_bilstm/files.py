"""Writing outputs atomically: a failure leaves neither a partial output nor a changed old one.
Every write goes through a temporary of its own, a unique name beside the output, so two
writers of outputs in the same directory (or of the same output) never share a temporary."""
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from .errors import OutputWriteError

# A directory can only be renamed onto an empty one; another writer's output may have landed
# there in between, so moving it aside is retried a few times before giving up.
_DIRECTORY_REPLACE_ATTEMPTS = 3


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write` on a temporary file next to `path`, then rename it into place.
    Raises OutputWriteError, naming the path and what to do, when the file system refuses."""
    _write_then_rename(Path(path), write, directory=False)


def atomic_write_dir(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write` on a new, empty temporary directory next to `path`, then rename it into
    place: `path` never holds a partly written directory. A directory already at `path` is
    moved aside, then removed. Raises OutputWriteError, as atomic_write does."""
    _write_then_rename(Path(path), write, directory=True)


def _write_then_rename(path: Path, write: Callable[[Path], None], *, directory: bool) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = _unique_sibling(path, directory, suffix=".tmp")
    except OSError as err:
        raise OutputWriteError(
            f"{path}: cannot write the output here ({err.strerror or err}). Choose a directory you can write "
            f"to, or create it first."
        ) from None
    try:
        write(temp)
        # mkstemp and mkdtemp create private entries; the output gets the permissions of any new file.
        os.chmod(temp, (0o777 if directory else 0o666) & ~_current_umask())
        if directory:
            _replace_directory(temp, path)
        else:
            os.replace(temp, path)
    except OSError as err:
        # A full disk or a vanished directory: the old output (if any) is untouched.
        raise OutputWriteError(
            f"{path}: writing the output failed ({err.strerror or err}); nothing was written. Free some space "
            f"or choose another output path, then run the command again."
        ) from None
    finally:
        _remove(temp)


def _unique_sibling(path: Path, directory: bool, *, suffix: str) -> Path:
    prefix = f".{path.name}."
    if directory:
        return Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=path.parent))
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
    os.close(handle)
    return Path(name)


def _replace_directory(new: Path, path: Path) -> None:
    moved_aside = []
    try:
        for attempt in range(_DIRECTORY_REPLACE_ATTEMPTS):
            try:
                os.replace(new, path)
                return
            except OSError as err:
                if err.errno not in (errno.ENOTEMPTY, errno.EEXIST) or attempt == _DIRECTORY_REPLACE_ATTEMPTS - 1:
                    raise
            aside = _unique_sibling(path, True, suffix=".old")
            moved_aside.append(aside)
            try:
                os.replace(path, aside)
            except FileNotFoundError:
                pass  # another writer moved it first
    finally:
        for aside in moved_aside:
            _remove(aside)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
