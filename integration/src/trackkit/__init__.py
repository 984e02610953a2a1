"""Complete visual object trackers composed from the trackkit libraries."""

__version__ = "0.1.0"

__all__: list[str] = []
