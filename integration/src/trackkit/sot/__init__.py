"""Single-object trackers, one subpackage per tracker family.

``trackkit.sot.instance``: Retina-MAML and FCOS-MAML, the instance-detection trackers of
Wang et al. 2020 (meta-learned detector heads adapted online). Its public names are re-exported
here for convenience.
"""

from trackkit.sot.instance import *  # noqa: F403
from trackkit.sot.instance import __all__ as _instance_all

__all__ = list(_instance_all)
