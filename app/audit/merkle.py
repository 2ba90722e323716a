"""RFC 6962 Merkle trees: roots, inclusion and consistency proofs, and their verification.

Leaves hash as ``SHA-256(0x00 ‖ leaf)`` and interior nodes as ``SHA-256(0x01 ‖ left ‖ right)``;
a tree of ``n`` leaves splits at the largest power of two below ``n`` (RFC 6962 §2.1). Proofs
are built over a ``get(level, index)`` lookup of *perfect aligned subtrees* (the subtree of
``2**level`` leaves starting at leaf ``index * 2**level``): every node a proof needs is one of
them or is hashed from them, so a store of those nodes answers any proof for any tree size.
Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2. Nothing here touches a database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

Lookup = Callable[[int, int], bytes]
"""``get(level, index)``: the hash of a perfect aligned subtree."""

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n`` ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree(get: Lookup, start: int, size: int) -> bytes:
    """MTH(D[start:start+size]) for a range the RFC's recursion produces."""
    if size & (size - 1) == 0:
        level = size.bit_length() - 1
        return get(level, start >> level)
    k = _split(size)
    return node_hash(subtree(get, start, k), subtree(get, start + k, size - k))


def root(get: Lookup, size: int) -> bytes:
    return EMPTY_ROOT if size == 0 else subtree(get, 0, size)


def inclusion_proof(get: Lookup, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]), leaf side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    start = 0
    while size > 1:
        k = _split(size)
        if index < k:
            path.append(subtree(get, start + k, size - k))
            size = k
        else:
            path.append(subtree(get, start, k))
            start, index, size = start + k, index - k, size - k
    path.reverse()
    return path


def consistency_proof(get: Lookup, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[0:second]) (RFC 6962 §2.1.2), innermost node first."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    proof: list[bytes] = []
    start, m, n, complete = 0, first, second, True
    while m != n:
        k = _split(n)
        if m <= k:
            proof.append(subtree(get, start + k, n - k))
            n = k
        else:
            proof.append(subtree(get, start, k))
            start, m, n, complete = start + k, m - k, n - k, False
    if not complete:
        proof.append(subtree(get, start, m))
    proof.reverse()
    return proof


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: list[bytes], expected: bytes
) -> bool:
    """RFC 9162 §2.1.3.2, for ``leaf`` (already leaf-hashed)."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == expected


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2."""
    if not 0 < first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first & (first - 1) == 0:
        proof = [first_root, *proof]
    if not proof:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


class Frontier:
    """The right edge of a growing tree: the perfect subtrees of its size's binary digits.

    Appending a leaf costs amortised two hashes; ``root()`` folds at most log₂ n nodes. The
    offline verifier streams every leaf through one of these and compares roots at each
    checkpoint size, in constant memory. ``completed`` receives each perfect subtree as it is
    finished, ``(level, index, hash)``, for a store that answers proofs later.
    """

    def __init__(
        self,
        size: int = 0,
        nodes: Iterable[bytes] = (),
        completed: Callable[[int, int, bytes], None] | None = None,
    ) -> None:
        self.size = size
        self._stack: list[tuple[int, bytes]] = []  # (level, hash), largest first
        levels = [b for b in range(size.bit_length() - 1, -1, -1) if size >> b & 1]
        hashes = list(nodes)
        if len(hashes) != len(levels):
            raise ValueError(f"a tree of {size} has {len(levels)} frontier nodes")
        self._stack = list(zip(levels, hashes, strict=True))
        self._completed = completed

    @staticmethod
    def positions(size: int) -> list[tuple[int, int]]:
        """The (level, index) of each frontier node of a tree of ``size`` leaves."""
        out, start = [], 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                out.append((level, start >> level))
                start += 1 << level
        return out

    def append(self, leaf: bytes) -> None:
        index, level, h = self.size, 0, leaf
        if self._completed:
            self._completed(0, index, h)
        while self._stack and self._stack[-1][0] == level:
            h = node_hash(self._stack.pop()[1], h)
            level += 1
            if self._completed:
                self._completed(level, index >> level, h)
        self._stack.append((level, h))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        r = self._stack[-1][1]
        for _, h in reversed(self._stack[:-1]):
            r = node_hash(h, r)
        return r
