"""Password hashes as older versions of Raymon stored them (to prove they still sign in and get replaced)."""

from __future__ import annotations

import base64
import hashlib
import os

from argon2 import PasswordHasher


def scrypt_hash(password: str) -> str:
    """Raymon's hash before argon2id (services/auth.py's hash_password until issue 15)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    b64 = base64.b64encode
    return f"scrypt$16384$8$1${b64(salt).decode()}${b64(digest).decode()}"


def weak_argon2_hash(password: str) -> str:
    """An argon2id hash with other (cheaper) parameters than the server's: due for a rehash."""
    return PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(password)
