"""Loading libspandsp2 through ctypes, once per binding.

Each binding (the simulator's T.38 and fax machines, the T.31 soft modem, the
connect-tone detectors) declares the prototypes it uses on a handle of its own
(``ctypes.CDLL`` objects keep their function attributes apart), so no binding depends
on another's declarations.  :class:`SpandspHandle` opens that handle on first use,
thread-safely, and says in its error how to install the library.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Callable, Mapping
from typing import Any

#: function name -> (restype, argtypes)
Signatures = Mapping[str, tuple[Any, list[Any]]]


class SpandspHandle:
    """libspandsp2 with ``signatures()`` declared, loaded by :meth:`get` on first use;
    ``error`` (an exception type taking a message) when the library cannot be loaded."""

    def __init__(self, signatures: Callable[[], Signatures], error: Callable[[str], Exception]) -> None:
        self._signatures = signatures
        self._error = error
        self._lib: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._lib is None:
                name = ctypes.util.find_library("spandsp") or "libspandsp.so.2"
                try:
                    lib = ctypes.CDLL(name)
                except OSError as exc:  # depends on the machine
                    raise self._error(f"cannot load {name}: {exc} (apt install libspandsp2)") from exc
                for function, (restype, argtypes) in self._signatures().items():
                    declared = getattr(lib, function)
                    declared.restype, declared.argtypes = restype, argtypes
                self._lib = lib
            return self._lib

    def available(self) -> bool:
        try:
            self.get()
        except Exception:
            return False
        return True
