"""Block-list domain names: IDNA A-labels, lower case, refused when not a host name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustdesk.network.domains import InvalidDomain, is_within, normalise_domain, parents


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Evil.Example.COM.", "evil.example.com"),
        ("*.evil.example", "evil.example"),
        ("ＥＸＡＭＰＬＥ．jp", "example.jp"),  # full-width form, UTS 46 mapping
        ("bücher.de", "xn--bcher-kva.de"),
        ("日本語.jp", "xn--wgv71a119e.jp"),
        ("_srv.example.net", "_srv.example.net"),
        ("  c2.example.org\t", "c2.example.org"),
    ],
)
def test_names_are_normalised(text: str, name: str) -> None:
    assert normalise_domain(text) == name


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty name"),
        ("192.0.2.1", "an IP address"),
        ("2001:db8::1", "an IP address"),
        ("com", "a public suffix"),
        ("co.jp", "a public suffix"),
        ("a..example", "invalid characters"),
        ("-bad.example", "invalid characters"),
        ("sp ace.example", "invalid characters"),
        ("<script>.example", "invalid characters"),
        ("x" * 64 + ".example", "invalid characters"),
        (("a" * 60 + ".") * 5 + "example", "name too long"),
    ],
)
def test_garbage_is_refused_with_a_problem_that_does_not_quote_it(text: str, problem: str) -> None:
    with pytest.raises(InvalidDomain) as raised:
        normalise_domain(text)
    assert raised.value.problem == problem
    assert text.strip()[:5] not in raised.value.problem or not text.strip()


@given(st.from_regex(r"[a-zA-Z0-9]{1,20}(\.[a-zA-Z0-9-]{0,10}[a-zA-Z0-9]){1,3}", fullmatch=True))
def test_normalising_twice_changes_nothing(text: str) -> None:
    try:
        name = normalise_domain(text)
    except InvalidDomain:
        return
    assert normalise_domain(name) == name == name.lower()


def test_within_and_parents() -> None:
    assert is_within("a.b.example.jp", "example.jp") and is_within("example.jp", "example.jp")
    assert not is_within("badexample.jp", "example.jp")
    assert parents("a.b.example.jp") == ["a.b.example.jp", "b.example.jp", "example.jp"]
