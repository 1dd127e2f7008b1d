"""Safe output files: written beside their destination, then renamed into place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import XlfundError


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def refuse_overwriting_input(source: Path, output: Path) -> None:
    if output.resolve() == source.resolve() or same_file(source, output):
        raise XlfundError(
            f"The output file {output} is the input file. xlfund never changes an input: "
            "choose another output name, e.g. with --output."
        )


@contextlib.contextmanager
def atomic_path(destination: str | Path) -> Iterator[Path]:
    """Yield a temporary path; on success it replaces ``destination`` in one step.

    An interrupted run leaves the destination as it was and no half-written file.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{destination.stem}-", suffix=destination.suffix,
                               dir=destination.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes it private; outputs are ordinary
        os.replace(tmp_path, destination)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
