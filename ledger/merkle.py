"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification.

Why this module exists: it is the small, dependency-free verifier that
auditors run against exported checkpoints and proofs. It therefore imports
nothing but the standard library (and never anything database related), and
its verification functions follow RFC 9162 sections 2.1.3.2 and 2.1.4.2
step by step so that a reviewer can check them against the RFC text.

Proof *generation* works from a sequence of leaf hashes and is O(n) per proof;
the sequencer keeps a `CompactRange` (the right frontier of the tree) so that
it can compute the root after each append in O(log n) and persist the
frontier next to every checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

from ledger.errors import VerificationFailed

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "ProofError",
    "consistency_proof",
    "consistency_ranges",
    "inclusion_proof",
    "inclusion_ranges",
    "leaf_hash",
    "leaf_hashes",
    "node_hash",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

EMPTY_ROOT: bytes = _sha256(b"").digest()


class ProofError(VerificationFailed, ValueError):
    """A proof, root or size failed verification; the message is one line."""


def leaf_hash(data: bytes) -> bytes:
    """Return SHA-256(0x00 || data), the RFC 6962 leaf hash (of an event: its canonical bytes).

    The one definition: `ledger.events.leaf_hash` is this function, re-exported.
    """
    return _sha256(_LEAF_PREFIX + data).digest()


def leaf_hashes(bodies: Iterable[bytes]) -> list[bytes]:
    """`leaf_hash` of many bodies (one comprehension: the verify and export hot loops)."""
    sha, prefix = _sha256, _LEAF_PREFIX
    return [sha(prefix + body).digest() for body in bodies]


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return SHA-256(0x01 || left || right), the RFC 6962 interior node hash."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes | bytearray) else "non-bytes"
        raise ProofError(f"{what} must be {HASH_SIZE} bytes, got {size}")


def _perfect_root(leaves: list[bytes]) -> bytes:
    """Root of a perfect subtree (len(leaves) is a power of two), one level at a time."""
    sha, prefix = _sha256, _NODE_PREFIX
    level = leaves
    while len(level) > 1:
        level = [sha(prefix + a + b).digest() for a, b in zip(level[::2], level[1::2], strict=True)]
    return level[0]


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Return MTH over the given leaf hashes (EMPTY_ROOT for an empty list).

    Bottom-up pairing where an odd trailing node is promoted unchanged gives
    exactly the RFC 6962 "largest power of two smaller than n" split.
    """
    n = len(hashes)
    if n == 0:
        return EMPTY_ROOT
    level = list(hashes)
    sha = _sha256
    prefix = _NODE_PREFIX
    while n > 1:
        nxt = [sha(prefix + level[i] + level[i + 1]).digest() for i in range(0, n - 1, 2)]
        if n & 1:
            nxt.append(level[-1])
        level = nxt
        n = len(level)
    return level[0]


class CompactRange:
    """Right frontier of a Merkle tree: one perfect-subtree root per set bit of `size`.

    `_hashes` holds the roots from the largest (leftmost) subtree to the
    smallest, so appending is a binary-counter carry and the root is a right
    fold. Serialised form: version byte 0x01, size as 8-byte big-endian, then
    the frontier hashes concatenated.
    """

    __slots__ = ("_hashes", "size")
    _VERSION = 1

    def __init__(self) -> None:
        self.size: int = 0
        self._hashes: list[bytes] = []

    def __repr__(self) -> str:
        return f"CompactRange(size={self.size})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self.size == other.size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """Frontier subtree roots, largest subtree first."""
        return tuple(self._hashes)

    def copy(self) -> CompactRange:
        """Return an independent copy."""
        other = CompactRange()
        other.size = self.size
        other._hashes = list(self._hashes)
        return other

    def append(self, hash_: bytes) -> None:
        """Append one leaf hash (already leaf-hashed, 32 bytes)."""
        _check_hash(hash_, "leaf hash")
        self._carry(bytes(hash_), 1)

    def append_many(self, hashes: Iterable[bytes]) -> None:
        """Append leaf hashes in order (nothing is appended if any is not 32 bytes).

        The batch is cut into the largest perfect subtrees the current size allows; each is
        hashed level by level in list comprehensions and carried into the frontier once, about
        twice as fast as carrying leaf by leaf (this is the tree half of every verifier).
        """
        leaves = [bytes(leaf) for leaf in hashes]
        for leaf in leaves:
            if len(leaf) != HASH_SIZE:
                raise ProofError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf)}")
        i, n = 0, len(leaves)
        while i < n:
            k = 1 << ((n - i).bit_length() - 1)
            lowest = self.size & -self.size
            if lowest:
                k = min(k, lowest)
            self._carry(_perfect_root(leaves[i : i + k]), k)
            i += k

    def _carry(self, subtree: bytes, width: int) -> None:
        """Add the root of a perfect subtree of `width` leaves, aligned at the current size."""
        stack = self._hashes
        n = self.size // width
        while n & 1:
            subtree = node_hash(stack.pop(), subtree)
            n >>= 1
        stack.append(subtree)
        self.size += width

    def root(self) -> bytes:
        """Return the tree head (MTH) for the current size."""
        stack = self._hashes
        if not stack:
            return EMPTY_ROOT
        r = stack[-1]
        for h in reversed(stack[:-1]):
            r = node_hash(h, r)
        return r

    def to_bytes(self) -> bytes:
        """Serialise for storage alongside a checkpoint."""
        return bytes([self._VERSION]) + self.size.to_bytes(8, "big") + b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> CompactRange:
        """Parse `to_bytes()` output strictly; raises ProofError when malformed."""
        if len(data) < 9 or data[0] != cls._VERSION:
            raise ProofError("compact range: bad header or unsupported version")
        size = int.from_bytes(data[1:9], "big")
        count = size.bit_count()
        body = data[9:]
        if len(body) != count * HASH_SIZE:
            raise ProofError(
                f"compact range: size {size} needs {count} hashes, got {len(body)} bytes"
            )
        rng = cls()
        rng.size = size
        rng._hashes = [body[i : i + HASH_SIZE] for i in range(0, len(body), HASH_SIZE)]
        return rng

    @classmethod
    def from_leaf_hashes(cls, hashes: Iterable[bytes]) -> CompactRange:
        """Build a range from scratch."""
        rng = cls()
        rng.append_many(hashes)
        return rng


# --------------------------------------------------------------------------
# Proof generation (RFC 9162 section 2.1.3.1 and 2.1.4.1)
# --------------------------------------------------------------------------


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose roots form PATH(index, D[0:size]), leaf to root (RFC 9162 2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} out of range for tree size {size}")
    out: list[tuple[int, int]] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m = lo + k, m - k
    out.reverse()
    return out


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose roots form PROOF(old_size, D[0:new_size]) (RFC 9162 2.1.4.1)."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"need 0 < old_size <= new_size, got {old_size} and {new_size}")
    out: list[tuple[int, int]] = []
    if old_size == new_size:
        return out
    lo, hi, m, complete = 0, new_size, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        out.append((lo, hi))
    out.reverse()
    return out


def inclusion_proof(index: int, size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return PATH(index, D[0:size]), ordered from the leaf towards the root."""
    if size <= 0 or size > len(leaf_hashes):
        raise ValueError(f"tree size {size} out of range (have {len(leaf_hashes)} leaves)")
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} out of range for tree size {size}")
    path: list[bytes] = []  # collected root-to-leaf, reversed at the end
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            path.append(root_from_leaf_hashes(leaf_hashes[lo + k : hi]))
            hi = lo + k
        else:
            path.append(root_from_leaf_hashes(leaf_hashes[lo : lo + k]))
            lo, m = lo + k, m - k
    path.reverse()
    return path


def consistency_proof(old_size: int, new_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return PROOF(old_size, D[0:new_size]) via the RFC 9162 SUBPROOF algorithm."""
    if new_size > len(leaf_hashes):
        raise ValueError(f"tree size {new_size} out of range (have {len(leaf_hashes)} leaves)")
    if not 0 < old_size <= new_size:
        raise ValueError(f"need 0 < old_size <= new_size, got {old_size} and {new_size}")
    if old_size == new_size:
        return []
    path: list[bytes] = []  # collected top-down, reversed at the end
    lo, hi, m, complete = 0, new_size, old_size, True
    while m != hi - lo:
        n = hi - lo
        k = _split(n)
        if m <= k:
            path.append(root_from_leaf_hashes(leaf_hashes[lo + k : hi]))
            hi = lo + k
        else:
            path.append(root_from_leaf_hashes(leaf_hashes[lo : lo + k]))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        path.append(root_from_leaf_hashes(leaf_hashes[lo:hi]))
    path.reverse()
    return path


# --------------------------------------------------------------------------
# Verification (RFC 9162 section 2.1.3.2 and 2.1.4.2)
# --------------------------------------------------------------------------


def _inclusion_proof_len(index: int, size: int) -> int:
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _consistency_proof_len(old_size: int, new_size: int) -> int:
    shift = (old_size & -old_size).bit_length() - 1
    inner = ((old_size - 1) ^ (new_size - 1)).bit_length()
    border = ((old_size - 1) >> inner).bit_count()
    start = 0 if old_size == 1 << shift else 1
    return start + (inner - shift) + border


def _check_proof(proof: Sequence[bytes], want_len: int) -> None:
    if len(proof) != want_len:
        raise ProofError(f"wrong proof length: got {len(proof)}, want {want_len}")
    for i, p in enumerate(proof):
        _check_hash(p, f"proof[{i}]")


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """Recompute the root implied by an inclusion proof (RFC 9162 2.1.3.2 steps 1-4)."""
    if size <= 0:
        raise ProofError(f"tree size must be positive, got {size}")
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} out of range for tree size {size}")
    _check_hash(leaf_hash, "leaf hash")
    _check_proof(proof, _inclusion_proof_len(index, size))
    fn, sn = index, size - 1
    r = bytes(leaf_hash)
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof too short")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless `proof` shows leaf `index` is in the tree of `size` with `root`."""
    _check_hash(root, "root")
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if not hmac.compare_digest(computed, root):
        raise ProofError("inclusion proof does not match root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofError unless `proof` shows the old tree is a prefix of the new tree.

    Equal sizes are accepted only with an empty proof and identical roots.
    Size 0 is rejected: there is nothing to be consistent with.
    """
    if old_size <= 0 or new_size <= 0:
        raise ProofError(f"tree sizes must be positive, got {old_size} and {new_size}")
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    _check_hash(old_root, "old root")
    _check_hash(new_root, "new root")
    if old_size == new_size:
        if proof:
            raise ProofError(f"wrong proof length: got {len(proof)}, want 0")
        if not hmac.compare_digest(old_root, new_root):
            raise ProofError("roots differ for equal tree sizes")
        return
    _check_proof(proof, _consistency_proof_len(old_size, new_size))
    path = list(proof)
    # Step 2: if first is an exact power of two, prepend first_hash.
    if old_size & (old_size - 1) == 0:
        path.insert(0, bytes(old_root))
    fr, sr = _consistency_roots(old_size, new_size, path)
    if not hmac.compare_digest(fr, old_root):
        raise ProofError("consistency proof does not match old root")
    if not hmac.compare_digest(sr, new_root):
        raise ProofError("consistency proof does not match new root")


def _consistency_roots(old_size: int, new_size: int, path: list[bytes]) -> tuple[bytes, bytes]:
    """Steps 3-7 of RFC 9162 2.1.4.2: the (old, new) roots a consistency path implies."""
    # Steps 3-4.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise ProofError("consistency proof too short")
    return fr, sr
