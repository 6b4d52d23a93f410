"""The orjson fast path must be byte-identical to rfc8785 and never accept non-canonical bytes."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import (
    CanonicalError,
    canonical_bytes,
    ensure_canonical,
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_fast_path_matches_rfc8785(value: Any) -> None:
    expected = bytes(rfc8785.dumps(value))
    assert canonical_bytes(value) == expected
    assert canonical_bytes(ensure_canonical(expected)) == expected


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1), scalars, min_size=1, max_size=4))
def test_non_canonical_forms_are_refused(value: dict[str, Any]) -> None:
    canonical = canonical_bytes(value)
    for variant in (
        json.dumps(value, indent=1, sort_keys=True).encode(),  # whitespace
        json.dumps(value, sort_keys=True, ensure_ascii=True).encode(),  # escaped non-ASCII
    ):
        if variant != canonical:
            with pytest.raises(CanonicalError):
                ensure_canonical(variant)


def test_duplicate_keys_are_refused_even_when_orjson_would_accept() -> None:
    with pytest.raises(CanonicalError):
        ensure_canonical(b'{"a":1,"a":1}')


@pytest.mark.parametrize(
    "data",
    [
        b"1.0",
        b'{"a":1.0}',
        b'{"a":[2,9007199254740993]}',
        b'{"\xee\x80\x80":2,"\xf0\x9f\x98\x80":1}',
    ],
)
def test_orjson_forms_that_are_not_rfc8785_are_refused(data: bytes) -> None:
    with pytest.raises(CanonicalError):
        ensure_canonical(data)
