"""Default locations of the tracking data: ``$TRACKKIT_DATA`` or ``../shared/data``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_data_root", "default_mot_root"]


def default_data_root() -> Path:
    """``$TRACKKIT_DATA/sot`` if set, else ``../shared/data/sot`` relative to the working dir."""
    env = os.environ.get("TRACKKIT_DATA")
    if env:
        return Path(env) / "sot"
    return Path("../shared/data/sot")


def default_mot_root() -> Path:
    """``$TRACKKIT_DATA/mot`` if set, else ``../shared/data/mot`` relative to the working dir."""
    env = os.environ.get("TRACKKIT_DATA")
    return (Path(env) if env else Path("../shared/data")) / "mot"
