"""Complete visual object trackers composed from the trackkit libraries.

Subpackages: ``trackkit.data`` (sequences, dataset readers, video IO, synthetic scenes,
crops, samplers), ``trackkit.eval`` (SOT and MOT metrics, benchmark runner, tables, plots),
``trackkit.sot`` and ``trackkit.train`` (trackers and training recipes), ``trackkit.cli``
(the ``trackkit`` command).
"""

__version__ = "0.1.0"

__all__: list[str] = []

from trackkit.sot import InstanceTracker, fcos_maml, retina_maml

__all__ += ["InstanceTracker", "fcos_maml", "retina_maml"]
