"""Files the project writes: where each lives, and how it is written so it is never half there.

Every saved file (the MNIST cache, a model's record, a drawings export, the drawn-digit set) is
written to a temporary name in its own folder, flushed to disk and moved onto its name, so a
reader sees the old file or the whole new one, and a crash or a full disk leaves no partial file
behind under the real name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

FILE_MODE = 0o644  # an ordinary file: mkstemp's temporaries are private


def chosen_path(argument: str | os.PathLike | None, env_var: str, default: Path) -> Path:
    """The path a caller names, else the one `$env_var` names, else `default`."""
    return Path(argument or os.environ.get(env_var) or default).expanduser()


@contextlib.contextmanager
def temporary_file(folder: Path, prefix: str, suffix: str = ".tmp") -> Iterator[Path]:
    """A new empty file in `folder`, removed when the block ends unless it was moved away."""
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
    os.close(handle)
    temp = Path(name)
    try:
        yield temp
    finally:
        temp.unlink(missing_ok=True)


def flush_to_disk(path: Path) -> None:
    """Make what was written to `path` durable before it is renamed into place."""
    with path.open("rb+") as file:
        os.fsync(file.fileno())


def write_atomically(
    path: str | os.PathLike, write: Callable[[Path], None], *, prefix: str | None = None
) -> Path:
    """Call `write(temp)` to fill a temporary file beside `path`, then move it onto `path`.

    `prefix` names the temporaries (say, to tell whose they are); by default `.<name>.`. OSError
    (a full disk, a read-only folder) propagates with `path` unchanged and no temporary left.
    """
    path = Path(path)
    with temporary_file(path.parent, prefix or f".{path.name}.") as temp:
        write(temp)
        flush_to_disk(temp)
        os.chmod(temp, FILE_MODE)
        os.replace(temp, path)
    return path
