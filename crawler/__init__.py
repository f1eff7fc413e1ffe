"""Everything that touches the web: a Scrapy project (scrapy.cfg points at crawler.settings)."""
