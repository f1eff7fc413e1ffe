"""Scrapy extensions: the crawl-run record (with health) and the live progress feed."""
