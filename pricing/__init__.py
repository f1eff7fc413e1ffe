"""Pricewatch: crawl competitor shops, keep price history, propose explained price changes."""
