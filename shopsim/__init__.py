"""A simulated market of competitor shops served on loopback, with ground truth.

``Market.generate(...)`` builds shops, products and offers from a seed; ``serve_in_thread``
serves them over real HTTP (one loopback address per shop); ``market.truth(shop)`` says what
every page shows at any simulated moment.
"""

from shopsim.market import Market
from shopsim.server import ShopServer, serve_in_thread

__all__ = ["Market", "ShopServer", "serve_in_thread"]
