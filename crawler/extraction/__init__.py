"""The pieces of extraction; :mod:`crawler.extract` is the public entry point.

- ``text``: bound and clean untrusted text.
- ``currency``: symbols and codes to ISO 4217 (ambiguous signs stay open unless hinted).
- ``prices``: which number in a price string is the price, and what it is (price-parser inside).
- ``normalize``: availability, counts ("1.2k sold"), ranks, ratings, GTIN check digits.
- ``records``: :class:`RawOffer`, what one syntax said about one offer.
- ``schemaorg``: JSON-LD and microdata (as extruct gives them) to RawOffers.
- ``opengraph``: ``og:``/``product:`` meta tags to a RawOffer.
- ``structured``: runs extruct with only the syntaxes a page has.
- ``selectors``: per-site CSS/XPath fields, listing items, struck-through prices.
- ``quality``: the gate that picks one price from every candidate and says how sure it is.
"""
