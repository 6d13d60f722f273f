"""Authentication in one place: a Bearer API key checked against stored hashes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.errors import Unauthorized
from kinora.keys import ApiKey, KeyStore

bearer = HTTPBearer(auto_error=False, description="An API key from `kinora keys create`.")


def require_key(request: Request,
                creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> ApiKey:
    if creds is None:
        raise Unauthorized("Missing API key: send `Authorization: Bearer <key>`.", code="missing_api_key")
    keys: KeyStore = request.app.state.keys
    key = keys.verify(creds.credentials)
    if key is None:
        raise Unauthorized("Invalid or revoked API key.")
    return key
