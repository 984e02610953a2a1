"""Test configuration: hypothesis runs without deadlines (timings here are noisy)."""

from hypothesis import settings

settings.register_profile("trackkit", deadline=None, max_examples=100)
settings.load_profile("trackkit")
