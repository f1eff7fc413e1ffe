"""parse_price on the formats shops really write, and on 1,185 real-world strings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crawler.bench.parse_price import load_rows, realdata_path
from crawler.extract import parse_price, parse_price_details, parse_price_parts


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("$1,299.00", "1299.00", None),  # "$" alone names ~30 currencies
        ("€1.299,00", "1299.00", "EUR"),
        ("1.299,00 €", "1299.00", "EUR"),
        ("1\u00a0299,00\u00a0€", "1299.00", "EUR"),  # no-break space thousands (fr_FR)
        ("1\u202f299,00 €", "1299.00", "EUR"),  # narrow no-break space
        ("CHF 1'299.00", "1299.00", "CHF"),  # apostrophe thousands (de_CH)
        ("CHF 1’299.00", "1299.00", "CHF"),  # typographic apostrophe
        ("R$ 1.299,90", "1299.90", "BRL"),
        ("US$ 12.99", "12.99", "USD"),
        ("£12", "12", "GBP"),
        ("45,00 zł", "45.00", "PLN"),
        ("₹ 2,499", "2499", "INR"),
        ("¥1,299", "1299", None),  # yen or yuan: ambiguous without a hint
        ("1299 kr", "1299", None),  # SEK, NOK, DKK, ISK
        ("From $9.99", "9.99", None),
        ("ab 2,99 €", "2.99", "EUR"),
        ("$10.00 - $20.00", "10.00", None),
        ("26 to 50 €", "26", "EUR"),
        ("Was $120.00 Now $60.00", "60.00", None),
        ("UVP 99,00 € jetzt 79,00 €", "79.00", "EUR"),
        ("3 Ausgaben für nur 14,85 EUR", "14.85", "EUR"),
        ("50 - $2.00 100 - $2.75", "2.00", None),  # quantity tiers: the currency marks the price
        ("AED 8000 (USD 2179)", "8000", "AED"),
        ("Free!", "0", None),  # a stated price of zero (shipping)
        ("\u200b$\u200b19.99\u200b", "19.99", None),  # zero-width characters
    ],
)
def test_formats(text, amount, currency):
    assert parse_price(text) == (Decimal(amount), currency)


@pytest.mark.parametrize(
    "text",
    [
        "Call for price",
        "Call for pricing: 555-0123",
        "Price on request",
        "Preis auf Anfrage",
        "Sold out",
        "N/A",
        "",
        "   ",
        "July, 2004",
        "15.08.2017",
        "16.00 ft",
        "Free shipping on orders $49+",
        "50% off",
        None,
    ],
)
def test_not_a_price_is_none_never_zero(text):
    assert parse_price(text)[0] is None


def test_hint_decides_ambiguous_signs_only():
    assert parse_price("$12.99", currency_hint="CAD") == (Decimal("12.99"), "CAD")
    assert parse_price("12.99", currency_hint="$") == (Decimal("12.99"), None)
    assert parse_price("12,99", currency_hint="€") == (Decimal("12.99"), "EUR")
    assert parse_price("¥1,299", currency_hint="JPY") == (Decimal("1299"), "JPY")
    assert parse_price("1 299 kr", currency_hint="SEK") == (Decimal("1299"), "SEK")
    # A hint that cannot be what the sign means decides nothing.
    assert parse_price("$12.99", currency_hint="EUR") == (Decimal("12.99"), None)
    assert parse_price("¥1,299", currency_hint="CNY") == (Decimal("1299"), "CNY")
    # The page's unambiguous sign beats a wrong hint.
    assert parse_price("€ 5", currency_hint="USD") == (Decimal("5"), "EUR")
    # A hint that is neither code nor symbol decides nothing.
    assert parse_price("5", currency_hint="dollars-ish") == (Decimal("5"), None)


def test_decimal_separator_hint():
    assert parse_price("1.299", decimal_separator=",")[0] == Decimal("1299")
    assert parse_price("1.299", decimal_separator=".")[0] == Decimal("1.299")


def test_ranges_and_from_say_so():
    parsed = parse_price_details("$10 - $20")
    assert (parsed.amount, parsed.high, parsed.is_range) == (Decimal("10"), Decimal("20"), True)
    assert parse_price_details("From $9.99").is_from
    assert not parse_price_details("$9.99").is_from
    assert not parse_price_details("50 - $2.00").is_range
    assert parse_price_details("Call for price").reason == "call_for_price"


def test_split_over_elements():
    assert parse_price_parts(["$19", "99"]).amount == Decimal("19.99")
    assert parse_price_parts(["17,", "99", "€"]).amount == Decimal("17.99")
    assert parse_price_parts(["1 299", "00", "€"], decimal_separator=",").amount == Decimal(
        "1299.00"
    )
    assert parse_price_parts(["$19.99"]).amount == Decimal("19.99")


def test_untrusted_long_text_is_bounded():
    assert parse_price("9" * 100_000)[0] is not None  # no hang, no crash
    assert parse_price("x" * 1_000_000 + "$5")[0] is None  # beyond the bound: not read


def _realdata_rows():
    path = realdata_path()
    assert path.exists(), f"{path} missing: shared/realdata must sit beside the checkout"
    return load_rows(path)


def test_realdata_amounts_and_iso_codes():
    """The 1,185 strings from price-parser's own test tables (not written here).

    11 rows expect 1.0 from a string holding no digit at all (a bare currency name such as
    "chf"): an upstream table quirk. Returning 1 for them would invent a price, so they are
    counted separately, and parse_price must give None there.
    """
    rows = _realdata_rows()
    assert len(rows) == 1185
    right = wellformed = wellformed_right = iso_rows = iso_right = 0
    for row in rows:
        parsed = parse_price_details(
            row["raw_string"],
            currency_hint=row["currency_hint"] or None,
            decimal_separator=row["decimal_separator"] or None,
        )
        expected = Decimal(row["expected_amount"]) if row["expected_amount"] else None
        ok = parsed.amount == expected
        right += ok
        if expected and not any(ch.isdigit() for ch in row["raw_string"]):
            assert parsed.amount is None, row["raw_string"]  # a number from nowhere
        else:
            wellformed += 1
            wellformed_right += ok
        if row["expected_currency_iso_guess"]:
            iso_rows += 1
            iso_right += parsed.currency == row["expected_currency_iso_guess"]
    assert wellformed == 1174
    assert wellformed_right / wellformed >= 0.995
    assert right / len(rows) > 1166 / 1185  # better than price-parser alone on the whole file
    assert iso_rows > 600 and iso_right / iso_rows >= 0.995


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("Sale $9.99 Reg $14.99", "9.99"),
        ("Reg. $14.99 Sale $9.99", "9.99"),
        ("Was £20 | Now £15", "15"),
        ("£5.99 + £2.99 P&P", "5.99"),
        ("You save $10.00 $39.99", "39.99"),
        ("$10 off $49.99", "49.99"),
        ("Save 20% $39.99", "39.99"),
        ("−20% 79,99 €", "79.99"),
        ("kr 1.299,-", "1299"),
        ("CHF 49.–", "49"),
        ("₹1,23,456", "123456"),  # Indian lakh grouping
        ("¥12,800 (税込)", "12800"),
        ("12x de R$ 108,33", "108.33"),  # Brazilian instalments
        ("Qty 2 $15.00", "15.00"),
        ("Item #4521 $15.00", "15.00"),
        ("SKU 12345 - 19,99 €", "19.99"),
        ("Model 2024 $399", "399"),
        ("4.5 out of 5 stars $29.99", "29.99"),
        ("In stock: 5 — $20", "20"),
    ],
)
def test_held_out_forms(text, amount):
    """Shop wordings written here, not taken from the real-data file the rules were tuned on."""
    assert parse_price(text)[0] == Decimal(amount)
