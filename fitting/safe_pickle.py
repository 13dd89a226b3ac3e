"""Reading the research world's Python-2 pickles (SMPL models, SMPLify's GMM prior) safely.

Such files are plain dicts of numpy arrays (and, for SMPL, chumpy objects and scipy sparse
matrices). The unpickler here rebuilds only those: any other class in the file is refused, so a
hostile file cannot run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

# Plain containers and the helpers protocol-2 pickles use to rebuild arrays and bytes.
_SAFE_GLOBALS = {
    ("builtins", "object"), ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "dict"),
    ("builtins", "list"), ("builtins", "tuple"), ("copyreg", "_reconstructor"),
    ("collections", "OrderedDict"), ("_codecs", "encode"),
}  # fmt: skip


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, scipy sparse matrices and plain containers, nothing else.

    ``stand_ins`` maps a module prefix (e.g. ``"chumpy"``) to a class that replaces every class
    from that module.
    """

    def __init__(self, handle: Any, what: str, stand_ins: dict[str, type] | None = None) -> None:
        super().__init__(handle, encoding="latin1")
        self.what = what
        self.stand_ins = stand_ins or {}

    def find_class(self, module: str, name: str) -> Any:
        for prefix, stand_in in self.stand_ins.items():
            if module == prefix or module.startswith(prefix + "."):
                return stand_in
        allowed = (
            module.startswith(("numpy", "scipy.sparse", "scipy._lib")) or (module, name) in _SAFE_GLOBALS
        )
        if not allowed:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from {self.what}")
        return super().find_class(module, name)


def load_restricted(path: Path, what: str, stand_ins: dict[str, type] | None = None) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler`; errors name the file and ``what`` it is."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist")
    try:
        with path.open("rb") as handle:
            return RestrictedUnpickler(handle, f"{what} {path}", stand_ins).load()
    except Exception as exc:
        raise ValueError(f"{what} {path} cannot be read: {exc}") from exc
