"""Benchmarks of the crawler: `pricewatch bench parse-price`, `pricewatch bench crawl`."""
