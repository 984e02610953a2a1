"""Multi-object trackers: RetinaTrack (joint detection and embedding)."""
