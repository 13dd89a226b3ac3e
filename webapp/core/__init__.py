"""Cross-cutting pieces: health checks, worker heartbeats, the status and home pages."""
