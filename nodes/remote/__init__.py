"""Remote image-to-video: one job engine, one adapter per provider, the auto engine (docs/remote.md)."""
