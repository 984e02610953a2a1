"""Sequence-level reinforcement learning for trackers.

Score-map policies, SCST, actor-critic, A3C.
"""

__version__ = "0.1.0"

__all__: list[str] = []
