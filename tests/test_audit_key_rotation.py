"""Rotating the audit log's signing key: checkpoints record their key id, the earlier keys
stay listed, and bundles verify across the rotation."""

from __future__ import annotations

import base64
from pathlib import Path

from app.audit.signing import Signer, open_note, public_keys
from app.audit.verify import verify_bundle
from app.startup import unsafe_settings
from tests.helpers import Api
from tests.test_audit_bundle import make_bundle
from tests.test_audit_log import AUDITOR, checkpoint

NEW_SEED = base64.b64encode(bytes(range(1, 33))).decode()


async def test_checkpoints_verify_across_a_rotation(api: Api, tmp_path: Path) -> None:
    await api.open_case("cadre_found")
    before = await checkpoint(api)
    old, new = Signer(api.settings.audit_signing_key), Signer(NEW_SEED)
    state = api.client._transport.app.state  # type: ignore[attr-defined]
    held = state.settings
    change = {"audit_signing_key": NEW_SEED, "audit_previous_public_keys": old.public_key_b64}
    rotated = held.model_copy(update=change)
    state.settings = rotated
    try:
        await api.open_case("cadre_found")
        after = await checkpoint(api)
        assert (before["key_id"], after["key_id"]) == (old.key_id, new.key_id)
        key = (await api.get(AUDITOR, "/api/v1/audit/public-key")).json()
        assert key["key_id"] == new.key_id
        [previous] = key["previous"]
        assert previous["key_id"] == old.key_id
        # each checkpoint's note verifies with the key that signed it
        answer = await api.get(AUDITOR, "/api/v1/audit/checkpoints")
        notes = {p["tree_size"]: p["note"] for p in answer.json()}
        assert open_note(notes[before["tree_size"]], previous["vkey"])[1] == before["tree_size"]
        assert open_note(notes[after["tree_size"]], key["vkey"])[1] == after["tree_size"]
    finally:
        state.settings = held
    bundle = await make_bundle(_with(api, rotated), tmp_path / "rotated")
    both = verify_bundle(bundle, public_key=[old.public_key_b64, new.public_key_b64])
    assert both.ok, both.problems
    only_new = verify_bundle(bundle, public_key=[new.public_key_b64])
    assert [p.code for p in only_new.problems][:1] == ["checkpoint_signature"]
    assert verify_bundle(bundle).ok  # the bundle carries both keys by id


def _with(api: Api, settings: object) -> Api:
    """The same client and clock, exporting with other settings."""
    clone = object.__new__(Api)
    clone.__dict__.update(api.__dict__)
    clone.settings = settings  # type: ignore[assignment]
    return clone


def test_a_malformed_earlier_key_stops_the_server() -> None:
    from app.core.config import Settings

    def lines(previous: str) -> list[str]:
        return unsafe_settings(
            Settings(audit_signing_key=NEW_SEED, audit_previous_public_keys=previous)
        )

    assert any("AUDIT_PREVIOUS_PUBLIC_KEYS" in line for line in lines("not-base64!"))
    assert any("32 bytes" in line for line in lines(base64.b64encode(b"x" * 16).decode()))
    assert not any("AUDIT" in line for line in lines(Signer(NEW_SEED).public_key_b64))
    signer = Signer(NEW_SEED)
    assert public_keys(signer, "") == {signer.key_id: signer.public_key_b64}
