"""Writing output files atomically: a failure leaves neither a partial file nor a changed old one."""
import os
import tempfile
from pathlib import Path
from typing import Callable

from .errors import OutputWriteError


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write` on a temporary file next to `path`, then rename it into place.
    Raises OutputWriteError, naming the path and what to do, when the file system refuses."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise OutputWriteError(
            f"{path}: cannot write the output here ({err.strerror or err}). Choose a directory you can write "
            f"to, or create it first."
        ) from None
    os.close(handle)
    temp = Path(temp_name)
    try:
        write(temp)
        os.chmod(temp, 0o666 & ~_current_umask())
        os.replace(temp, path)
    except OSError as err:
        # A full disk or a vanished directory: the old output (if any) is untouched.
        raise OutputWriteError(
            f"{path}: writing the output failed ({err.strerror or err}); nothing was written. Free some space "
            f"or choose another output path, then run the command again."
        ) from None
    finally:
        if temp.exists():
            temp.unlink()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
