"""Generated numba source, written to a file so that numba can cache what it compiles from it.

numba caches only functions that have a source file, and a cached function carries the code of
the functions it calls, which numba does not check for changes. So generated source is written
once to a file named by a hash of the source and of every module whose code the compiled result
carries: an edit to any of them is a new file, compiled afresh; otherwise each process loads the
compiled code from numba's cache beside the file. The folder is ``NUMBA_CACHE_DIR`` when set, else
the user's cache directory (``platformdirs``), under ``kernels/``.

:func:`stored_json` keeps other costly, deterministic results (the elicitation's calibration) in
the same root, under ``results/``, named by a digest of everything they depend on.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

import platformdirs

log = logging.getLogger(__name__)


def root() -> Path:
    """The cache root: ``NUMBA_CACHE_DIR`` when set, else the user's cache directory."""
    return Path(os.environ.get("NUMBA_CACHE_DIR") or platformdirs.user_cache_dir("harbinger"))


def folder() -> Path:
    """Where generated kernels and their numba caches live."""
    return root() / "kernels"


def _write_atomically(file: Path, text: str) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=file.parent, suffix=".tmp", delete=False) as out:
        out.write(text)
    os.replace(out.name, file)


def stored_json(stem: str, key: str, carried: Iterable[Path], compute: Callable[[], object]) -> object:
    """``compute()``'s JSON value, kept in a file named by ``stem`` and a digest of ``key`` and of
    the files in ``carried`` (the code that computes it): a later process reads the file instead
    of computing again, and any change of the key or the code is a new file. The value returned is
    always the JSON round trip, so a computed and a read value are the same; when the cache cannot
    be read or written the value is computed (and the failure logged)."""
    digest = hashlib.sha256(key.encode())
    for path in sorted(carried):
        digest.update(path.read_bytes())
    file = root() / "results" / f"{stem}_{digest.hexdigest()[:16]}.json"
    try:
        return json.loads(file.read_text())
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as e:
        log.info("cached result %s cannot be read (%s); computing it again", file, e)
    text = json.dumps(compute())
    try:
        _write_atomically(file, text)
    except OSError as e:
        log.info("result %s is not cached (%s)", file, e)
    return json.loads(text)


def generated_module(stem: str, text: str, carried: Iterable[Path]) -> ModuleType | None:
    """The module whose source is ``text``, imported from a file named by ``stem`` and a hash of
    ``text`` and of the files in ``carried``; None when no cache folder can be written (the
    caller then compiles in memory)."""
    digest = hashlib.sha256(text.encode())
    for path in sorted(carried):
        digest.update(path.read_bytes())
    name = f"{stem}_{digest.hexdigest()[:16]}"
    if name in sys.modules:
        return sys.modules[name]
    file = folder() / f"{name}.py"
    try:
        if not file.exists() or file.read_text() != text:
            _write_atomically(file, text)
        spec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    except OSError as e:
        sys.modules.pop(name, None)
        log.info("generated code is compiled without a cache (%s)", e)
        return None
