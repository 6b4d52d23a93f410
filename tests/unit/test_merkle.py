"""Tests for ledger.merkle against the RFC 6962 / Certificate Transparency vectors.

Vectors come from google/certificate-transparency merkle_tree_test.cc as
carried over into transparency-dev/merkle proof/verify_test.go. Property
tests check that every generated proof verifies and every mutation fails.
"""

from __future__ import annotations

import hashlib
import os
import random

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
LEAF_HASHES = [leaf_hash(d) for d in LEAVES]

ROOTS = [
    bytes.fromhex(h)
    for h in [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]


def _h(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(x) for x in hexes]


# (0-based leaf index, tree size, proof)
INCLUSION_VECTORS = [
    (0, 1, []),
    (
        0,
        8,
        _h(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        _h(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (2, 3, _h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        1,
        5,
        _h(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]

# (old size, new size, proof)
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        _h(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _h(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _h(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        _h(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def reference_mth(hashes: list[bytes]) -> bytes:
    """MTH exactly as written in RFC 6962 section 2.1 (recursive)."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(reference_mth(hashes[:k]), reference_mth(hashes[k:]))


# ---------------------------------------------------------------- known vectors


def test_empty_root() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert CompactRange().root() == EMPTY_ROOT


def test_leaf_and_node_hash_domain_separation() -> None:
    assert leaf_hash(b"") == ROOTS[0]
    assert node_hash(LEAF_HASHES[0], LEAF_HASHES[1]) == ROOTS[1]


@pytest.mark.parametrize("size", range(1, 9))
def test_known_roots(size: int) -> None:
    assert root_from_leaf_hashes(LEAF_HASHES[:size]) == ROOTS[size - 1]
    assert reference_mth(LEAF_HASHES[:size]) == ROOTS[size - 1]
    assert CompactRange.from_leaf_hashes(LEAF_HASHES[:size]).root() == ROOTS[size - 1]


def test_size_8_root_hardcoded() -> None:
    assert root_from_leaf_hashes(LEAF_HASHES).hex() == (
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    )


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_known_inclusion_proofs(index: int, size: int, proof: list[bytes]) -> None:
    assert inclusion_proof(index, size, LEAF_HASHES) == proof
    root = ROOTS[size - 1]
    verify_inclusion(LEAF_HASHES[index], index, size, proof, root)
    assert root_from_inclusion_proof(LEAF_HASHES[index], index, size, proof) == root
    for probe in _inclusion_mutations(index, size, proof, root, LEAF_HASHES[index]):
        with pytest.raises(ProofError):
            verify_inclusion(*probe)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_known_consistency_proofs(old: int, new: int, proof: list[bytes]) -> None:
    assert consistency_proof(old, new, LEAF_HASHES) == proof
    verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], proof)
    if proof:
        for probe in _consistency_mutations(old, new, ROOTS[old - 1], ROOTS[new - 1], proof):
            with pytest.raises(ProofError):
                verify_consistency(*probe)


# ---------------------------------------------------------------- mutations


def _flip(proof: list[bytes], i: int, bit: int) -> list[bytes]:
    out = list(proof)
    out[i] = bytes([out[i][0] ^ (1 << bit)]) + out[i][1:]
    return out


def _inclusion_mutations(
    index: int, size: int, proof: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[bytes, int, int, list[bytes], bytes]]:
    probes: list[tuple[bytes, int, int, list[bytes], bytes]] = [
        (leaf, index - 1, size, proof, root),
        (leaf, index + 1, size, proof, root),
        (leaf, index ^ 2, size, proof, root),
        (leaf, index, size * 2, proof, root),
        (leaf, index, size // 2, proof, root),
        (b"WrongLeaf", index, size, proof, root),
        (leaf_hash(b"WrongLeaf"), index, size, proof, root),
        (leaf, index, size, proof, EMPTY_ROOT),
        (leaf, index, size, proof, SOME_HASH),
        (leaf, index, size, [*proof, b""], root),
        (leaf, index, size, [*proof, root], root),
        (leaf, index, size, [b"", *proof], root),
        (leaf, index, size, [root, *proof], root),
    ]
    for i in range(len(proof)):
        probes.append((leaf, index, size, _flip(proof, i, 3), root))
    if proof:
        probes.append((leaf, index, size, proof[:-1], root))
    if len(proof) > 1:
        probes.append((leaf, index, size, [proof[0], SOME_HASH, *proof[1:]], root))
        swapped = list(proof)
        swapped[0], swapped[1] = swapped[1], swapped[0]
        if swapped != proof:
            probes.append((leaf, index, size, swapped, root))
    return probes


def _consistency_mutations(
    old: int, new: int, r1: bytes, r2: bytes, proof: list[bytes]
) -> list[tuple[int, int, bytes, bytes, list[bytes]]]:
    probes: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, b"WrongRoot", r2, proof),
        (old, new, r1, b"WrongRoot", proof),
        (old, new, SOME_HASH, r2, proof),
        (old, new, r1, SOME_HASH, proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, b""]),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [b"", *proof]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        probes.append((old, new, r1, r2, _flip(proof, i, 4)))
    if len(proof) > 1 and proof[0] != proof[1]:
        probes.append((old, new, r1, r2, [proof[1], proof[0], *proof[2:]]))
    return probes


# ---------------------------------------------------------------- strict rejection


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (1, 1), (2, 1), (-1, 1)])
def test_inclusion_bad_index_or_size(index: int, size: int) -> None:
    with pytest.raises(ProofError):
        verify_inclusion(SOME_HASH, index, size, [], SOME_HASH)


def test_single_entry_inclusion() -> None:
    h = leaf_hash(b"data")
    verify_inclusion(h, 0, 1, [], h)
    for leaf, root in [(h, b""), (b"", h), (b"", b"")]:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, 0, 1, [], root)


def test_error_messages_are_one_line() -> None:
    with pytest.raises(ProofError) as exc:
        verify_inclusion(LEAF_HASHES[0], 0, 8, [], ROOTS[7])
    assert "wrong proof length" in str(exc.value)
    assert "\n" not in str(exc.value)
    with pytest.raises(ProofError, match="out of range"):
        verify_inclusion(LEAF_HASHES[0], 8, 8, [], ROOTS[7])
    with pytest.raises(ProofError, match="does not match root"):
        verify_inclusion(LEAF_HASHES[1], 0, 8, INCLUSION_VECTORS[1][2], ROOTS[7])


def test_consistency_edge_cases() -> None:
    verify_consistency(3, 3, ROOTS[2], ROOTS[2], [])
    with pytest.raises(ProofError, match="roots differ"):
        verify_consistency(3, 3, ROOTS[2], ROOTS[3], [])
    with pytest.raises(ProofError, match="wrong proof length"):
        verify_consistency(3, 3, ROOTS[2], ROOTS[2], [EMPTY_ROOT])
    with pytest.raises(ProofError, match="positive"):
        verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(ProofError, match="positive"):
        verify_consistency(0, 1, EMPTY_ROOT, ROOTS[0], [])
    with pytest.raises(ProofError, match="larger"):
        verify_consistency(2, 1, ROOTS[1], ROOTS[0], [])
    with pytest.raises(ProofError, match="wrong proof length"):
        verify_consistency(1, 2, ROOTS[0], ROOTS[1], [])
    with pytest.raises(ProofError, match="32 bytes"):
        verify_consistency(1, 2, ROOTS[0][:31], ROOTS[1], [LEAF_HASHES[1]])
    with pytest.raises(ProofError, match="32 bytes"):
        verify_consistency(1, 2, ROOTS[0], ROOTS[1], [LEAF_HASHES[1] + b"\x00"])


def test_generation_argument_errors() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(0, 0, LEAF_HASHES)
    with pytest.raises(ValueError):
        inclusion_proof(8, 8, LEAF_HASHES)
    with pytest.raises(ValueError):
        inclusion_proof(0, 9, LEAF_HASHES)
    with pytest.raises(ValueError):
        consistency_proof(0, 3, LEAF_HASHES)
    with pytest.raises(ValueError):
        consistency_proof(4, 3, LEAF_HASHES)
    with pytest.raises(ValueError):
        consistency_proof(1, 9, LEAF_HASHES)
    assert consistency_proof(5, 5, LEAF_HASHES) == []


def test_module_has_no_database_imports() -> None:
    source = open(merkle.__file__, encoding="utf-8").read()
    for banned in ("psycopg", "sqlalchemy", "sqlite3", "asyncpg"):
        assert banned not in source


# ---------------------------------------------------------------- properties


def _hashes(n: int, seed: int) -> list[bytes]:
    return [
        hashlib.sha256(seed.to_bytes(8, "big") + i.to_bytes(8, "big")).digest() for i in range(n)
    ]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300), st.data())
def test_inclusion_roundtrip_and_mutations(size: int, data: st.DataObject) -> None:
    hashes = _hashes(size, size)
    index = data.draw(st.integers(0, size - 1))
    root = root_from_leaf_hashes(hashes)
    proof = inclusion_proof(index, size, hashes)
    verify_inclusion(hashes[index], index, size, proof, root)
    for probe in _inclusion_mutations(index, size, proof, root, hashes[index]):
        with pytest.raises(ProofError):
            verify_inclusion(*probe)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        bad = list(proof)
        bad[i] = (int.from_bytes(bad[i], "big") ^ (1 << bit)).to_bytes(32, "big")
        with pytest.raises(ProofError):
            verify_inclusion(hashes[index], index, size, bad, root)
    other = data.draw(st.integers(0, size - 1))
    assume(hashes[other] != hashes[index])
    with pytest.raises(ProofError):
        verify_inclusion(hashes[other], index, size, proof, root)


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 300), st.data())
def test_consistency_roundtrip_and_mutations(new: int, data: st.DataObject) -> None:
    hashes = _hashes(new, new + 1000)
    old = data.draw(st.integers(1, new - 1))
    r1 = root_from_leaf_hashes(hashes[:old])
    r2 = root_from_leaf_hashes(hashes)
    proof = consistency_proof(old, new, hashes)
    verify_consistency(old, new, r1, r2, proof)
    for probe in _consistency_mutations(old, new, r1, r2, proof):
        with pytest.raises(ProofError):
            verify_consistency(*probe)
    i = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 255))
    bad = list(proof)
    bad[i] = (int.from_bytes(bad[i], "big") ^ (1 << bit)).to_bytes(32, "big")
    with pytest.raises(ProofError):
        verify_consistency(old, new, r1, r2, bad)
    # A tree that differs in the first `old` leaves is not consistent.
    forked = [SOME_HASH, *hashes[1:]]
    with pytest.raises(ProofError):
        verify_consistency(old, new, root_from_leaf_hashes(forked[:old]), r2, proof)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 600))
def test_compact_range_matches_mth(size: int) -> None:
    hashes = _hashes(size, 7)
    rng = CompactRange()
    for h in hashes[: size // 2]:
        rng.append(h)
    rng.append_many(hashes[size // 2 :])
    assert rng.size == size
    assert len(rng.hashes) == size.bit_count()
    assert rng.root() == root_from_leaf_hashes(hashes) == reference_mth(hashes)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 600), st.integers(0, 50))
def test_compact_range_serialisation_roundtrip(size: int, more: int) -> None:
    hashes = _hashes(size + more, 11)
    rng = CompactRange.from_leaf_hashes(hashes[:size])
    blob = rng.to_bytes()
    back = CompactRange.from_bytes(blob)
    assert back == rng
    assert back.to_bytes() == blob
    assert back.root() == rng.root()
    back.append_many(hashes[size:])  # resume after reload
    assert back.root() == root_from_leaf_hashes(hashes)


def test_compact_range_rejects_malformed() -> None:
    rng = CompactRange.from_leaf_hashes(LEAF_HASHES[:5])
    blob = rng.to_bytes()
    for bad in (b"", blob[:8], b"\x02" + blob[1:], blob[:-1], blob + b"\x00", blob[:-32]):
        with pytest.raises(ProofError):
            CompactRange.from_bytes(bad)
    with pytest.raises(ProofError):
        rng.append(b"short")
    with pytest.raises(ProofError):
        rng.append_many([LEAF_HASHES[5], b"x" * 31])
    assert rng.size == 5  # all or nothing: the good hash before the bad one is not kept
    assert rng.root() == ROOTS[4]
    assert repr(rng) == "CompactRange(size=5)"
    assert rng.copy() == rng


@pytest.mark.slow
def test_compact_range_one_million_appends_is_fast() -> None:
    import time

    hashes = [os.urandom(32) for _ in range(1_000_000)]
    start = time.perf_counter()
    rng = CompactRange()
    rng.append_many(hashes)
    root = rng.root()
    elapsed = time.perf_counter() - start
    assert root == root_from_leaf_hashes(hashes)
    assert elapsed < 5.0, f"1M appends took {elapsed:.2f}s"


def test_batched_appends_match_leaf_by_leaf() -> None:
    """append_many hashes whole perfect subtrees at once; any cut of the leaves into batches
    must give the frontier (and so every root) that appending one leaf at a time gives."""
    rng = random.Random(3)
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(1500)]
    for _ in range(60):
        size, fed, batched, single = rng.randint(0, 1500), 0, CompactRange(), CompactRange()
        while fed < size:
            step = min(size - fed, rng.choice([1, 2, 3, 64, 100, rng.randint(1, 1500)]))
            batched.append_many(leaves[fed : fed + step])
            for leaf in leaves[fed : fed + step]:
                single.append(leaf)
            fed += step
            assert batched == single
        assert batched.root() == root_from_leaf_hashes(leaves[:size])
