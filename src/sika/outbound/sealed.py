"""Signing secrets at rest: encrypted (Fernet: AES-128-CBC with an HMAC-SHA256)
under a key derived from ``OUTBOUND_SECRETS_KEY``, so that a dump of the
database alone cannot sign a webhook as Sika would."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet
from pydantic import SecretStr


def _fernet(key: SecretStr | None) -> Fernet:
    if key is None or not key.get_secret_value():
        raise RuntimeError("SIKA_OUTBOUND_SECRETS_KEY is not set: webhook secrets cannot be sealed")
    # The setting is any long random string; Fernet wants 32 bytes, base64.
    digest = hashlib.sha256(key.get_secret_value().encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(secret: str, key: SecretStr | None) -> str:
    return _fernet(key).encrypt(secret.encode()).decode()


def unseal(sealed: str, key: SecretStr | None) -> str:
    return _fernet(key).decrypt(sealed.encode()).decode()
