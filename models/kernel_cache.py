"""Generated numba source, written to a file so that numba can cache what it compiles from it.

numba caches only functions that have a source file, and a cached function carries the code of
the functions it calls, which numba does not check for changes. So generated source is written
once to a file named by a hash of the source and of every module whose code the compiled result
carries: an edit to any of them is a new file, compiled afresh; otherwise each process loads the
compiled code from numba's cache beside the file. The folder is ``NUMBA_CACHE_DIR`` when set, else
the user's cache directory (``platformdirs``), under ``kernels/``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import platformdirs

log = logging.getLogger(__name__)


def folder() -> Path:
    """Where generated kernels and their numba caches live."""
    return Path(os.environ.get("NUMBA_CACHE_DIR") or platformdirs.user_cache_dir("harbinger")) / "kernels"


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
            file.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=file.parent, suffix=".tmp", delete=False) as out:
                out.write(text)
            os.replace(out.name, file)
        spec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    except OSError as e:
        sys.modules.pop(name, None)
        log.info("generated code is compiled without a cache (%s)", e)
        return None
