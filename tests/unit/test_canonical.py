"""RFC 8785 canonical bytes: the published vectors, and the strict parser's refusals.

Every event hash depends on these bytes, so they are pinned against the RFC's own examples and
the reference implementation's test data (provenance in tests/vectors/jcs/README.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.canonical import (
    CanonicalError,
    canonical_bytes,
    content_hash,
    ensure_canonical,
    loads_strict,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "jcs"
NAMES = sorted(p.stem for p in (VECTORS / "input").glob("*.json"))


def test_the_vector_set_is_complete() -> None:
    outputs = sorted(p.stem for p in (VECTORS / "output").glob("*.json"))
    assert NAMES == outputs
    for required in ("rfc8785-3.2.2-sample", "rfc8785-3.2.3-sorting", "rfc8785-appendix-b-numbers"):
        assert required in NAMES
    readme = (VECTORS / "README.md").read_text()
    for name in NAMES:
        assert f"`{name}`" in readme, f"{name} has no provenance in README.md"


@pytest.mark.parametrize("name", NAMES)
def test_vector(name: str) -> None:
    source = (VECTORS / "input" / f"{name}.json").read_bytes()
    expected = (VECTORS / "output" / f"{name}.json").read_bytes()
    assert canonical_bytes(loads_strict(source)) == expected
    assert canonical_bytes(loads_strict(source.decode("utf-8"))) == expected


@pytest.mark.parametrize(
    "name",
    [n for n in NAMES],
)
def test_expected_output_is_canonical(name: str) -> None:
    expected = (VECTORS / "output" / f"{name}.json").read_bytes()
    assert ensure_canonical(expected) == loads_strict(expected)


def test_rfc_number_sample_exactly() -> None:
    value = loads_strict("[333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001]")
    assert canonical_bytes(value) == b"[333333333.3333333,1e+30,4.5,0.002,1e-27]"


def test_keys_sort_by_utf16_code_units_not_code_points() -> None:
    # U+1F600 is D83D DE00 in UTF-16, so it sorts before U+FB33 although its code point is larger.
    value = {"\ufb33": 1, "\U0001f600": 2}
    assert canonical_bytes(value) == '{"\U0001f600":2,"\ufb33":1}'.encode()


@pytest.mark.parametrize(
    "text",
    ['{"a": 1, "a": 2}', '{"x": {"k": true, "k": true}}', '[{"b": 0, "a": 0, "b": 0}]'],
)
def test_duplicate_keys_are_rejected(text: str) -> None:
    with pytest.raises(CanonicalError, match="duplicate key"):
        loads_strict(text)


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"x": -Infinity}'])
def test_nan_and_infinity_are_rejected(text: str) -> None:
    with pytest.raises(CanonicalError, match="not valid JSON"):
        loads_strict(text)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), [float("-inf")]])
def test_non_finite_numbers_cannot_be_canonicalised(value: object) -> None:
    with pytest.raises(CanonicalError):
        canonical_bytes(value)


def test_integral_doubles_beyond_2_53_survive_a_reparse() -> None:
    body = canonical_bytes({"x": 1e16})
    assert body == b'{"x":10000000000000000}'
    assert canonical_bytes(loads_strict(body)) == body


def test_unsafe_integers_are_refused_not_rounded() -> None:
    assert canonical_bytes(2**53 - 1) == b"9007199254740991"
    with pytest.raises(CanonicalError):
        canonical_bytes(2**53)


@pytest.mark.parametrize(
    "data", [b'{"a": "\xff"}', b'"\xc3\x28"', b'"\xed\xa0\x80"', b"\x80", b'{"\xe2\x82": 1}']
)
def test_invalid_utf8_is_rejected(data: bytes) -> None:
    with pytest.raises(CanonicalError, match="UTF-8"):
        loads_strict(data)


@pytest.mark.parametrize("data", [b"", b"{", b'{"a":}', b"[1,]", b"{'a': 1}", b'{"a": 1} x'])
def test_malformed_json_is_rejected(data: bytes) -> None:
    with pytest.raises(CanonicalError, match="malformed JSON"):
        loads_strict(data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"b":1,"a":2}',  # unsorted keys
        b'{"a": 1}',  # whitespace
        b'{"a":1.0}',  # non-minimal number
        b'{"a":1E2}',  # exponent form
        b'"\\u0041"',  # unnecessary escape
        b'"\\/"',  # escaped solidus
        b'{"a":1}\n',  # trailing newline
        b'\xef\xbb\xbf{"a":1}',  # byte-order mark
    ],
)
def test_ensure_canonical_rejects_non_canonical_bytes(data: bytes) -> None:
    with pytest.raises(CanonicalError):
        ensure_canonical(data)


def test_ensure_canonical_returns_the_parsed_value() -> None:
    assert ensure_canonical(b'{"a":[1,"x",null],"b":{}}') == {"a": [1, "x", None], "b": {}}


def test_content_hash_is_sha256_of_canonical_bytes() -> None:
    import hashlib

    assert content_hash({"b": 1, "a": [2.0]}) == hashlib.sha256(b'{"a":[2],"b":1}').hexdigest()
    assert content_hash({"a": 1, "b": 2}) == content_hash({"b": 2, "a": 1})
