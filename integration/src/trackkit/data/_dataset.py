"""`Dataset`: an iterable, indexable collection of sequences built lazily by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["Dataset"]

T = TypeVar("T")


class Dataset(Generic[T]):
    """An ordered collection of sequences, each built on first access and then kept.

    Args:
        name: dataset name (e.g. ``"OTB-2015"``).
        names: sequence names in order.
        load: ``load(name) -> sequence``; called at most once per name. Reading a sequence is
            cheap (annotations only), frames stay lazy.

    ``len(ds)``, ``ds[i]``, ``ds["Crossing"]``, ``for seq in ds`` and ``ds.names`` work as
    expected; ``ds.subset(names)`` keeps a selection.
    """

    def __init__(self, name: str, names: list[str], load: Callable[[str], T]) -> None:
        if len(set(names)) != len(names):
            raise ValueError(f"dataset {name!r}: duplicate sequence names")
        self.name = name
        self.names: list[str] = list(names)
        self._load = load
        self._cache: dict[str, T] = {}

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, key: int | str) -> T:
        if isinstance(key, str):
            if key not in self.names:
                raise KeyError(f"dataset {self.name!r} has no sequence {key!r}")
            seq_name = key
        elif isinstance(key, int):
            seq_name = self.names[key]
        else:
            raise TypeError(f"key must be an int or a sequence name, got {type(key).__name__}")
        if seq_name not in self._cache:
            self._cache[seq_name] = self._load(seq_name)
        return self._cache[seq_name]

    def __iter__(self) -> Iterator[T]:
        for seq_name in self.names:
            yield self[seq_name]

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def subset(self, names: list[str]) -> Dataset[T]:
        """The sequences named in ``names`` (in that order); unknown names raise ``KeyError``."""
        unknown = [n for n in names if n not in self.names]
        if unknown:
            raise KeyError(f"dataset {self.name!r} has no sequences {unknown}")
        sub: Dataset[T] = Dataset(self.name, list(names), self._load)
        sub._cache = {n: s for n, s in self._cache.items() if n in names}
        return sub

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, {len(self)} sequences)"
