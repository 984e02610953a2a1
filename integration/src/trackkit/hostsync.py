"""Count the device-to-host synchronisations of a block of torch code, on any device.

On a GPU, reading a tensor's value on the host (``.item()``, ``bool(t)``, ``int(t)``,
``.cpu()``, ``.numpy()``, ``.tolist()``) or asking for a data-dependent shape
(``nonzero``, boolean-mask indexing, ``unique``, ``masked_select``) blocks the host until the
device has caught up. Inside a per-frame loop each one is a stall; a tracker should have one
per frame (its final boxes). :class:`HostSyncCounter` counts them on any device, the CPU
included, so that a test without a GPU can enforce the budget:

- a ``TorchDispatchMode`` sees every aten operator: ``_local_scalar_dense`` (what ``.item()``,
  ``bool()``, ``int()``, ``float()`` of a tensor call), and the operators whose output shape
  depends on tensor values (:data:`DATA_DEPENDENT_OPS`);
- ``torch.Tensor.cpu``, ``.numpy``, ``.tolist`` and ``.to`` (with a CPU target) are wrapped for
  the duration, since on the CPU they are no-ops the dispatcher never sees.

Counting is per call site kind (``counts``) and in total (``total``); ``events`` keeps the
first stack frame outside torch of each (``where=True``) to find the culprit.
"""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["DATA_DEPENDENT_OPS", "HostSyncCounter"]

#: aten operators (overload packets) that synchronise with the host on CUDA because the shape of
#: their result depends on tensor values (``t[mask]`` is ``aten.index`` with a bool index).
DATA_DEPENDENT_OPS: tuple[str, ...] = (
    "nonzero",
    "masked_select",
    "unique_dim",
    "_unique2",
    "unique_consecutive",
    "repeat_interleave",
)

_SCALAR = "_local_scalar_dense"
_ON_HOST = "_hostsync_on_host"


def _caller() -> str:
    """``file:line`` of the innermost frame outside torch and this module."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        f = frame.filename
        if "/torch/" in f or f == __file__:
            continue
        return f"{f}:{frame.lineno}"
    return "?"


class _Mode(TorchDispatchMode):
    def __init__(self, record: Callable[[str], None]) -> None:
        super().__init__()
        self._record = record

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        name = func.overloadpacket.__name__
        if name == _SCALAR or name in DATA_DEPENDENT_OPS:
            self._record(name)
        elif name == "index" and any(
            isinstance(i, torch.Tensor) and i.dtype == torch.bool
            for i in (args[1] if len(args) > 1 else ())
        ):
            self._record("index(bool mask)")
        return func(*args, **(kwargs or {}))


class HostSyncCounter:
    """Context manager counting device-to-host synchronisations (see the module docstring).

    Example::

        with HostSyncCounter() as sync:
            boxes = tracker.update(frame)
        assert sync.total <= 1, sync.events

    Args:
        where: record the calling ``file:line`` of each event in :attr:`events`.

    Attributes:
        counts: ``Counter`` kind -> number (kinds: ``cpu``, ``numpy``, ``tolist``, ``to(cpu)``,
            ``_local_scalar_dense``, ``index(bool mask)`` and :data:`DATA_DEPENDENT_OPS`).
        events: ``(kind, file:line)`` in order (``file:line`` is ``""`` unless ``where``).
    """

    def __init__(self, *, where: bool = True) -> None:
        self.where = where
        self.counts: Counter[str] = Counter()
        self.events: list[tuple[str, str]] = []
        self._saved: dict[str, Any] = {}
        self._mode: _Mode | None = None
        self._depth = 0

    @property
    def total(self) -> int:
        """Number of synchronisations counted so far."""
        return sum(self.counts.values())

    def reset(self) -> None:
        """Forget what was counted (e.g. between frames)."""
        self.counts.clear()
        self.events.clear()

    def _record(self, kind: str) -> None:
        # A .cpu() whose copy reaches the dispatcher would count twice: count the outer call only.
        if self._depth > 1:
            return
        self.counts[kind] += 1
        self.events.append((kind, _caller() if self.where else ""))

    def _wrap(
        self, name: str, kind: str, applies: Callable[..., bool], *, reads_host: bool = False
    ) -> None:
        original = getattr(torch.Tensor, name)
        self._saved[name] = original
        counter = self

        def wrapper(t: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            counted = applies(t, *args, **kwargs)
            if reads_host and getattr(t, _ON_HOST, False):
                # ``t.cpu().numpy()`` is one copy: the tensor a counted ``.cpu()`` returned is
                # marked, and its first read on the host is free (the mark is used up).
                delattr(t, _ON_HOST)
                counted = False
            if counted:
                counter._record(kind)
            counter._depth += 1
            try:
                out = original(t, *args, **kwargs)
            finally:
                counter._depth -= 1
            if counted and not reads_host and isinstance(out, torch.Tensor):
                setattr(out, _ON_HOST, True)
            return out

        setattr(torch.Tensor, name, wrapper)

    def __enter__(self) -> HostSyncCounter:
        always: Callable[..., bool] = lambda *a, **k: True  # noqa: E731
        self._wrap("cpu", "cpu", always)
        self._wrap("numpy", "numpy", always, reads_host=True)
        self._wrap("tolist", "tolist", always, reads_host=True)
        self._wrap("to", "to(cpu)", _to_cpu)
        self._mode = _Mode(lambda kind: None if self._depth else self._record(kind))
        self._mode.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._mode is not None
        self._mode.__exit__(exc_type, exc, tb)
        self._mode = None
        for name, original in self._saved.items():
            setattr(torch.Tensor, name, original)
        self._saved.clear()


def _to_cpu(t: torch.Tensor, *args: Any, **kwargs: Any) -> bool:
    """Whether a ``Tensor.to`` call copies a device tensor to the CPU.

    ``x.to(y.device)`` is the idiom for following an input's device, so on the CPU (where every
    device is the CPU) ``to`` never counts; a ``.to("cpu")`` in a hot loop shows on a GPU only.
    """
    if t.device.type == "cpu":
        return False
    target = kwargs.get("device")
    for a in args:
        if isinstance(a, (str, torch.device)):
            target = a
        elif isinstance(a, torch.Tensor):
            target = a.device
    return target is not None and torch.device(target).type == "cpu"
