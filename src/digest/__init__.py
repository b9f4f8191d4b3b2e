"""digest: daily per-subscriber email digests of briefings and videos."""

__version__ = "0.1.0"
