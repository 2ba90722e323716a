"""RFC 6962 Merkle trees against the Certificate Transparency test vectors."""

from __future__ import annotations

import pytest

from app.audit import merkle

# The eight leaves and the roots of each prefix, from the RFC 6962 reference implementation's
# tests (certificate-transparency, merkle_tree_test).
LEAVES = [
    bytes.fromhex(x)
    for x in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# PATH(0, D[8]) from the same tests.
PATH_0_OF_8 = [
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
]


def stored() -> dict[tuple[int, int], bytes]:
    nodes: dict[tuple[int, int], bytes] = {}
    frontier = merkle.Frontier(completed=lambda lv, ix, h: nodes.__setitem__((lv, ix), h))
    for leaf in LEAVES:
        frontier.append(merkle.leaf_hash(leaf))
    return nodes


def test_roots_of_every_prefix_match_the_vectors() -> None:
    frontier, nodes = merkle.Frontier(), stored()
    for size, (leaf, expected) in enumerate(zip(LEAVES, ROOTS, strict=True), start=1):
        frontier.append(merkle.leaf_hash(leaf))
        assert frontier.root().hex() == expected
        assert merkle.root(lambda lv, ix: nodes[(lv, ix)], size).hex() == expected
    assert merkle.root(lambda lv, ix: nodes[(lv, ix)], 0) == merkle.EMPTY_ROOT


def test_frontier_resumes_from_stored_nodes() -> None:
    nodes = stored()
    for size in range(9):
        keys = merkle.Frontier.positions(size)
        resumed = merkle.Frontier(size, [nodes[k] for k in keys])
        for leaf in LEAVES[size:]:
            resumed.append(merkle.leaf_hash(leaf))
        assert resumed.root().hex() == ROOTS[-1]


def test_inclusion_proof_matches_the_vector() -> None:
    nodes = stored()
    path = merkle.inclusion_proof(lambda lv, ix: nodes[(lv, ix)], 0, 8)
    assert [p.hex() for p in path] == PATH_0_OF_8


@pytest.mark.parametrize("size", range(1, 9))
def test_every_inclusion_proof_verifies_and_no_other_leaf_does(size: int) -> None:
    nodes = stored()
    root = bytes.fromhex(ROOTS[size - 1])
    for index in range(size):
        path = merkle.inclusion_proof(lambda lv, ix: nodes[(lv, ix)], index, size)
        leaf = merkle.leaf_hash(LEAVES[index])
        assert merkle.verify_inclusion(leaf, index, size, path, root)
        other = merkle.leaf_hash(LEAVES[(index + 1) % 8])
        assert not merkle.verify_inclusion(other, index, size, path, root)
        assert not merkle.verify_inclusion(leaf, index, size, path, bytes(32))
        if size > 1:
            assert not merkle.verify_inclusion(leaf, (index + 1) % size, size, path, root)


@pytest.mark.parametrize("second", range(1, 9))
def test_every_consistency_proof_verifies_and_a_wrong_root_does_not(second: int) -> None:
    nodes = stored()
    for first in range(1, second + 1):
        proof = merkle.consistency_proof(lambda lv, ix: nodes[(lv, ix)], first, second)
        one, two = bytes.fromhex(ROOTS[first - 1]), bytes.fromhex(ROOTS[second - 1])
        assert merkle.verify_consistency(first, second, one, two, proof)
        if first < second:
            assert not merkle.verify_consistency(first, second, two, two, proof)
            assert not merkle.verify_consistency(first, second, one, one, proof)
            assert not merkle.verify_consistency(first, second, one, two, proof[:-1])
