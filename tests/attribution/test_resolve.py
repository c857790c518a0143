"""The pure attribution rules (SPEC §2), without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from trustdesk.attribution.resolve import Holding, chain, decide, supersede

T0 = datetime(2026, 10, 20, 0, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def session(subscriber: str | None, start: int, stop: int | None) -> Holding:
    return Holding(
        "radius",
        subscriber,
        at(start),
        None if stop is None else at(stop),
        {"session_id": f"{subscriber}-{start}"},
    )


def test_holder_inside_a_session_is_named() -> None:
    decision = decide([session("C1", 0, 60)], at(30), timedelta(0))
    assert decision.subscriber_id == "C1"
    assert decision.candidates == ("C1",)
    assert decision.evidence[0]["session_id"] == "C1-0"


def test_stop_is_exclusive_and_a_gap_names_nobody() -> None:
    holdings = [session("C1", 0, 60), session("C2", 65, None)]
    assert decide(holdings, at(60), timedelta(0)).subscriber_id is None
    assert decide(holdings, at(62), timedelta(0)).candidates == ()
    assert decide(holdings, at(65), timedelta(0)).subscriber_id == "C2"


def test_clock_margin_lists_the_neighbour_and_names_no_one() -> None:
    holdings = [session("C1", 0, 60), session("C2", 61, None)]
    decision = decide(holdings, at(59), timedelta(minutes=3))
    assert decision.subscriber_id is None
    assert decision.candidates == ("C1", "C2")


def test_open_session_ends_when_the_address_is_given_to_another() -> None:
    """A lost Stop must not make the earlier user hold the address for ever."""
    holdings = supersede([session("C1", 0, None), session("C2", 120, None)])
    assert decide(holdings, at(130), timedelta(0)).subscriber_id == "C2"
    assert decide(holdings, at(60), timedelta(0)).subscriber_id == "C1"
    ended = next(h for h in holdings if h.subscriber_id == "C1")
    assert ended.held_until == at(120) and ended.evidence["ended_by_successor"]


def test_supersede_respects_competition_rule() -> None:
    low = Holding("cgnat", None, at(0), None, {"ports": [1024, 1535]})
    high = Holding("cgnat", None, at(10), None, {"ports": [1536, 2047]})

    def overlap(a: Holding, b: Holding) -> bool:
        return bool(
            a.evidence["ports"][0] <= b.evidence["ports"][1]
            and b.evidence["ports"][0] <= a.evidence["ports"][1]
        )

    result = supersede([low, high], competes=overlap)
    assert all(h.held_until is None for h in result)


def test_unknown_radius_user_blocks_naming() -> None:
    decision = decide([session(None, 0, 60)], at(10), timedelta(0))
    assert decision.subscriber_id is None
    assert "matches no subscriber" in decision.reason


def test_unknown_holder_within_the_clock_margin_blocks_naming() -> None:
    """An unknown-user session ending 10 s before the reported time, with a 60 s margin, could
    have been the address's user: nobody is named (SPEC §2, the margin counts every holder)."""
    unknown_until = T0 + timedelta(minutes=10)
    holdings = [
        Holding("radius", None, T0, unknown_until, {"session_id": "unknown"}),
        Holding("radius", "C1", unknown_until, None, {"session_id": "C1"}),
    ]
    decision = decide(holdings, unknown_until + timedelta(seconds=10), timedelta(seconds=60))
    assert decision.subscriber_id is None
    assert decision.candidates == ("C1",)
    assert "clock margin" in decision.reason
    assert decide(holdings, unknown_until + timedelta(seconds=90), timedelta(seconds=60)) == (
        decide(holdings[1:], unknown_until + timedelta(seconds=90), timedelta(seconds=60))
    )


def test_two_subscribers_at_once_is_left_to_an_operator() -> None:
    decision = decide([session("C1", 0, None), session("C2", 0, None)], at(5), timedelta(0))
    assert decision.subscriber_id is None
    assert decision.candidates == ("C1", "C2")


def test_chain_takes_the_overlap_of_block_and_inside_session() -> None:
    block = Holding("cgnat", None, at(10), at(100), {"inside_ip": "100.64.0.1"})
    composed = chain(block, [session("C9", 0, 50), session("C8", 50, None)])
    assert [(h.subscriber_id, h.held_from, h.held_until) for h in composed] == [
        ("C9", at(10), at(50)),
        ("C8", at(50), at(100)),
    ]
    assert composed[0].evidence["inside_session"]["session_id"] == "C9-0"


def test_chain_without_inside_session_keeps_the_block_as_unknown_holder() -> None:
    block = Holding("cgnat", None, at(10), None, {"inside_ip": "100.64.0.1"})
    [only] = chain(block, [])
    assert only.subscriber_id is None and only.evidence["inside_session"] is None


@given(
    st.lists(
        st.tuples(st.integers(0, 500), st.integers(1, 300), st.booleans()), min_size=1, max_size=8
    ),
    st.integers(0, 900),
)
def test_superseded_sessions_never_overlap(spans: list[tuple[int, int, bool]], probe: int) -> None:
    """After supersede, distinct start times never both cover one instant."""
    holdings = [
        session(f"C{i}", start, None if open_ else start + length)
        for i, (start, length, open_) in enumerate(spans)
    ]
    covering = [h for h in supersede(holdings) if h.covers(at(probe))]
    assert len({h.held_from for h in covering}) <= 1


@given(st.permutations(range(4)))
def test_holdings_begun_together_give_the_same_evidence_in_any_order(order: list[int]) -> None:
    """Rows come from the database (or the in-memory index) in no set order among equals."""
    holdings = [
        session("C1", 0, None),
        session("C2", 0, 50),
        session("C3", 0, 40),
        session("C4", 10, None),
    ]
    shuffled = [holdings[i] for i in order]
    assert decide(shuffled, at(30), timedelta(0)) == decide(holdings, at(30), timedelta(0))


_layouts = st.lists(
    st.tuples(
        st.sampled_from(["C1", "C2", None]),
        st.integers(0, 60),
        st.one_of(st.none(), st.integers(1, 30)),
    ),
    max_size=6,
)


@given(_layouts, st.integers(0, 100), st.integers(0, 10))
def test_nobody_is_named_when_another_holder_was_possible(
    layout: list[tuple[str | None, int, int | None]], probe: int, skew_minutes: int
) -> None:
    """Over random session layouts: a subscriber is named only when every holding within the
    clock margin is theirs and one of them covers the instant; and then always."""
    holdings = supersede(
        [
            session(who, start, None if length is None else start + length)
            for who, start, length in layout
        ]
    )
    moment, skew = at(probe), timedelta(minutes=skew_minutes)
    decision = decide(holdings, moment, skew)
    possible = [h for h in holdings if h.overlaps(moment - skew, moment + skew)]
    holders = {h.subscriber_id for h in possible}
    if decision.subscriber_id is not None:
        assert holders == {decision.subscriber_id}
        assert any(h.covers(moment) for h in possible)
    elif len(holders) == 1 and None not in holders:
        assert not any(h.covers(moment) for h in possible)
