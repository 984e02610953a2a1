"""Functional MAML for any torch module.

Inner loops, learned learning rates, multi-step loss, online adaptation.
"""

__version__ = "0.1.0"

__all__: list[str] = []
