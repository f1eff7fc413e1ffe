"""Unknown siblings: a code-less offer that fits our model and a sibling we do not sell waits.

Hand-written shapes of the simulator's last near-duplicate errors (issue #5): the shop leaves
the model number out and gives no GTIN or MPN, we carry one model of the line, and the market
lists another model with the same words. Then in the store (SQLite and PostgreSQL), where the
sibling is in another shop than the offer in question, and the incremental run still finds it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from pricing.matching import run_matching
from pricing.matching.attributes import profile
from pricing.matching.matcher import Matcher
from pricing.matching.siblings import SiblingGuard, is_sibling
from pricing.store.models import Match, Offer, Product, Site

OURS = ("Rowenta Triflex ROT-2135 Cordless Vacuum Cleaner 0.75L Red", "Rowenta", "ROT-2135-RD2")
OFFER = "Rowenta Triflex Cordless Vacuum Cleaner 0.75L Red"
CATALOG = [
    profile(OURS[0], OURS[1], mpn=OURS[2]),
    profile("Dyson V15 DYV-3385 Cordless Vacuum Cleaner 0.75L Grey", "Dyson"),
    profile("Miele Stratos MIS-9345 Cordless Vacuum Cleaner 0.5L Red", "Miele"),
]


def judge(market: list[tuple[str, str | None, str | None, str | None]], offer: str = OFFER):
    matcher = Matcher(CATALOG)
    offers = [profile(offer, None)]
    proposals = matcher.propose(offers)
    assert len(proposals) == 1 and proposals[0].product == 0
    assert proposals[0].decision.is_match  # the pairwise decision alone accepts it
    guard = SiblingGuard.of(matcher)
    asked: list[list[str]] = []

    def rows(words):
        asked.append(list(words))
        return market

    (result,) = guard.review(proposals, offers, rows)
    return result.decision, asked


def test_a_sibling_with_the_same_words_sends_the_match_to_review():
    decision, asked = judge(
        [("Rowenta Triflex ROT-2136 Cordless Vacuum Cleaner 0.75L Red", "Rowenta", None, None)]
    )
    assert decision.verdict == "review"
    assert decision.evidence["also_fits"] == "rot2136"
    assert (
        decision.evidence["sibling"] == "Rowenta Triflex ROT-2136 Cordless Vacuum Cleaner 0.75L Red"
    )
    assert asked == [["triflex"]]  # the rarest word offer and product share


def test_a_sibling_named_only_by_its_mpn_counts_too():
    decision, _ = judge([(OFFER, "Rowenta", None, "ROT-2136-RD1")])
    assert decision.verdict == "review"
    assert decision.evidence["also_fits"] == "rot2136rd1"


@pytest.mark.parametrize(
    "market",
    [
        # The sibling is another size or colour than the offer: the offer cannot be it.
        [("Rowenta Triflex ROT-2136 Cordless Vacuum Cleaner 0.5L Red", "Rowenta", None, None)],
        [("Rowenta Triflex ROT-2136 Cordless Vacuum Cleaner 0.75L Blue", "Rowenta", None, None)],
        # Our own model, with its code: no sibling.
        [("Rowenta Triflex ROT-2135 Cordless Vacuum 0.75L Red", "Rowenta", None, None)],
        # Another brand's line of the same name is no sibling of ours.
        [("Tefal Triflex TET-2136 Cordless Vacuum Cleaner 0.75L Red", "Tefal", None, None)],
        # Another line of our brand.
        [("Rowenta Triflex XPR-2136 Cordless Vacuum Cleaner 0.75L Red", "Rowenta", None, None)],
        [],
    ],
)
def test_no_fitting_sibling_keeps_the_match(market):
    decision, _ = judge(market)
    assert decision.verdict == "match"
    assert "also_fits" not in decision.evidence


def test_an_offer_that_names_a_code_is_not_in_question():
    """The pairwise decision already settled it: the code agrees (or conflicts)."""
    decision, asked = judge(
        [("Rowenta Triflex ROT-2136 Cordless Vacuum Cleaner 0.75L Red", "Rowenta", None, None)],
        offer="Rowenta Triflex ROT-2135 Cordless Vacuum Cleaner 0.75L Red",
    )
    assert decision.verdict == "match" and asked == []  # the market was not even read


def test_is_sibling_needs_the_same_line_letters_and_shape():
    ours = CATALOG[0]
    assert is_sibling(ours, profile("Rowenta Triflex ROT-2136 Vacuum", "Rowenta"))
    assert not is_sibling(ours, profile("Rowenta Triflex ROT-21360 Vacuum", "Rowenta"))
    assert not is_sibling(ours, profile("Rowenta Triflex Vacuum", "Rowenta"))


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _site(conn, name: str) -> int:
    return conn.execute(
        insert(Site).values(name=name, base_url=f"http://{name}").returning(Site.id)
    ).scalar_one()


def test_store_matching_finds_the_sibling_in_another_shop(db_engine):
    with db_engine.begin() as conn:
        conn.execute(
            insert(Product).values(
                sku="R1", title=OURS[0], brand=OURS[1], mpn=OURS[2], created_at=T0
            )
        )
        a, b = _site(conn, "shop-a"), _site(conn, "shop-b")
        for site, url, title in (
            (a, "/offer", OFFER),
            (a, "/other", "Rowenta Triflex ROT-2135 Cordless Vacuum Cleaner 0.75L Red"),
            (b, "/sibling", "Rowenta Triflex ROT-2136 Cordless Vacuum Cleaner 0.75L Red"),
        ):
            conn.execute(
                insert(Offer).values(
                    site_id=site, url=url, title=title, first_seen=T0, last_seen=T0
                )
            )
    first = run_matching(db_engine, now=T0 + timedelta(hours=1))
    assert first.siblings == 1 and "1 to review as an unknown sibling" in first.summary()
    with db_engine.connect() as conn:
        got = {
            r.url: r
            for r in conn.execute(
                select(Offer.url, Match.status, Match.evidence).join(
                    Offer, Offer.id == Match.offer_id
                )
            )
        }
    assert got["/offer"].status == "review"
    assert got["/offer"].evidence["also_fits"] == "rot2136"
    assert got["/other"].status == "accepted"  # it names our code
    assert "/sibling" not in got  # its code conflicts with ours

    # Incremental: a new code-less offer in the sibling's shop; only it is examined, and the
    # sibling (not examined in this run) still sends it to review.
    with db_engine.begin() as conn:
        conn.execute(
            insert(Offer).values(
                site_id=b,
                url="/new",
                title="ROWENTA TRIFLEX Cordless Vacuum Cleaner 0.75L (Red)",
                first_seen=T0 + timedelta(hours=2),
                last_seen=T0 + timedelta(hours=2),
            )
        )
    again = run_matching(db_engine, now=T0 + timedelta(hours=3))
    assert not again.full and again.offers_examined == 1
    assert (again.accepted, again.review, again.siblings) == (0, 1, 1)


def test_a_hyphenated_line_name_is_looked_for_as_the_shop_spells_it():
    """ "Pro-DLX" is also the glued word "prodlx" to the matcher; titles are searched for "dlx"."""
    catalog = [profile("Thule Pro-DLX THP-690 Backpack 20L Beige", "Thule", mpn="THP-690-BG0")]
    matcher = Matcher(catalog)
    offers = [profile("Thule Pro-DLX Backpack 20L Beige", "Thule")]
    proposals = matcher.propose(offers)
    guard = SiblingGuard.of(matcher)
    market = [("Thule Pro-DLX THP-700 Backpack 20L Beige", None, None, "THP-700-BG0")]
    (result,) = guard.review(proposals, offers, lambda words: market)
    assert result.decision.verdict == "review"
