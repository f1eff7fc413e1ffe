"""Downloader and spider middlewares: retries with backoff, page guards, conditional requests."""
