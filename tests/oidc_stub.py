"""A small OpenID Connect provider for the console's sign-in test: authorization code with
PKCE (S256 only), RS256 access tokens carrying the service's claims, its JWKS. It signs in
one configured person without a page of its own (the test is about the console's side)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route


class Provider:
    def __init__(self, port: int, person: dict[str, str], audience: str) -> None:
        self.issuer = f"http://127.0.0.1:{port}"
        self.person, self.audience = person, audience
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.codes: dict[str, dict[str, str]] = {}
        self.exchanged: list[dict[str, str]] = []

    def jwks(self, _: Request) -> Response:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return JSONResponse({"keys": [{**public, "kid": "stub-1", "use": "sig", "alg": "RS256"}]})

    def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256":
            return JSONResponse({"error": "unsupported"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "challenge": q["code_challenge"],
            "redirect_uri": q["redirect_uri"],
            "client_id": q["client_id"],
        }
        target = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
        return RedirectResponse(target, status_code=302)

    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        cors = {"Access-Control-Allow-Origin": request.headers.get("origin", "*")}
        pending = self.codes.pop(str(form.get("code")), None)
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if (
            pending is None
            or pending["client_id"] != form.get("client_id")
            or pending["redirect_uri"] != form.get("redirect_uri")
            or challenge.rstrip(b"=").decode() != pending["challenge"]
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400, headers=cors)
        now = int(time.time())
        claims: dict[str, Any] = {
            **self.person,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
        }
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "stub-1"})
        self.exchanged.append({"client_id": pending["client_id"]})
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": 3600}, headers=cors
        )

    def preflight(self, request: Request) -> Response:
        return Response(
            headers={
                "Access-Control-Allow-Origin": request.headers.get("origin", "*"),
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": "content-type",
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/token", self.preflight, methods=["OPTIONS"]),
            ]
        )


@contextmanager
def running(port: int, person: dict[str, str], audience: str) -> Iterator[Provider]:
    provider = Provider(port, person, audience)
    server = uvicorn.Server(
        uvicorn.Config(provider.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(timeout=10)
