"""What a server or worker checks before it starts: no development secret outside a demo.

With ``FANGFANPIN_DEMO=1`` (``make run`` sets it) the development secrets, the demo clock and
the demo token endpoint are allowed. Without it, every secret must be one of the deployment's
own: a public development value, a placeholder from ``deploy/`` or a malformed key stops the
process with one line naming the variable.
"""

from __future__ import annotations

from app.core.config import Settings

DEFAULTS = Settings.model_construct()
PLACEHOLDER = "CHANGE-ME"


def _jwt_keys(settings: Settings) -> list[str]:
    """JWT_KEYS, when set: well formed, each secret the deployment's own and long enough."""
    from app.auth.tokens import keys_of

    if settings.jwt_keys is None:
        return []
    try:
        keys = keys_of(settings.jwt_keys)
    except ValueError as exc:
        return [f"JWT_KEYS is malformed ({exc}): kid:secret, comma-separated"]
    found = []
    for kid, secret in keys.items():
        if PLACEHOLDER in secret or secret == DEFAULTS.jwt_secret:
            found.append(f"JWT_KEYS key {kid} is a placeholder or the development value")
        elif len(secret) < 32:
            found.append(f"JWT_KEYS key {kid} is shorter than 32 characters")
    return found


def _blind_index_keys(settings: Settings) -> list[str]:
    from app.core.blind import parse

    try:
        index = parse(settings.blind_index_key, settings.blind_index_keys)
    except ValueError as exc:
        return [f"{exc}"]
    return [
        f"BLIND_INDEX_KEYS key {kid} is a placeholder or shorter than 16 characters"
        for kid, secret in index.keys.items()
        if kid and (PLACEHOLDER.encode() in secret or len(secret) < 16)
    ]


def unsafe_settings(settings: Settings) -> list[str]:
    """Each reason the settings may not serve production, one line each (empty: fine)."""
    from app.audit.signing import Signer, public_keys
    from app.core.crypto import cipher_for

    if settings.demo:
        return []
    found = []
    secrets = {
        "JWT_SECRET": (settings.jwt_secret, DEFAULTS.jwt_secret, 32),
        "FIELD_KEYS": (settings.field_keys, DEFAULTS.field_keys, 0),
        "BLIND_INDEX_KEY": (settings.blind_index_key, DEFAULTS.blind_index_key, 16),
        "AUDIT_SIGNING_KEY": (settings.audit_signing_key, DEFAULTS.audit_signing_key, 0),
    }
    if not settings.blind_index_key and settings.blind_index_keys:
        del secrets["BLIND_INDEX_KEY"]  # retired after a rotation (app.core.blind)
    for name, (value, default, shortest) in secrets.items():
        if value == default:
            found.append(f"{name} is the public development value: set the deployment's own")
        elif PLACEHOLDER in value:
            found.append(f"{name} is still the placeholder from deploy/: set the real value")
        elif len(value) < shortest:
            found.append(f"{name} is shorter than {shortest} characters")
    found += _jwt_keys(settings)
    if not any(line.startswith("FIELD_KEYS") for line in found):
        try:
            cipher_for(settings.field_keys)
        except (ValueError, TypeError) as exc:
            found.append(
                f"FIELD_KEYS is malformed ({exc}): kid:base64-of-32-bytes, comma-separated"
            )
    found += _blind_index_keys(settings)
    if not any(line.startswith("AUDIT_SIGNING_KEY") for line in found):
        try:
            public_keys(Signer(settings.audit_signing_key), settings.audit_previous_public_keys)
        except ValueError as exc:
            found.append(f"{exc}")
    if settings.metrics_token is not None and (
        PLACEHOLDER in settings.metrics_token or len(settings.metrics_token) < 16
    ):
        found.append("METRICS_TOKEN is a placeholder or shorter than 16 characters")
    if settings.demo_clock:
        found.append("DEMO_CLOCK is for demonstrations only: set FANGFANPIN_DEMO=1 for one")
    return found
