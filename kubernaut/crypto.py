"""Encryption at rest for secrets stored in the database (cluster credentials).

The key comes from KUBERNAUT_ENCRYPTION_KEY (or its _FILE variant); without it, one is derived from
SECRET_KEY, so changing SECRET_KEY then makes stored credentials unreadable (re-enter them).
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class UnreadableSecret(Exception):
    """A stored secret cannot be decrypted with the current key."""


def _fernet() -> Fernet:
    material = settings.KUBERNAUT_ENCRYPTION_KEY or settings.SECRET_KEY
    key = hashlib.sha256(b"kubernaut-secrets:" + material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise UnreadableSecret(
            "A stored credential cannot be decrypted: KUBERNAUT_ENCRYPTION_KEY (or SECRET_KEY) "
            "changed since it was saved. Enter the cluster's kubeconfig again in the admin."
        ) from None
