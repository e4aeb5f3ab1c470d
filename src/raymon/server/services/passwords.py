"""Passwords: hashing new ones with argon2id, checking them, and recognising hashes to replace.

New hashes are argon2id (``argon2-cffi``'s ``PasswordHasher``) with the
parameters of RFC 9106's second recommended option, the "low-memory" profile
(``argon2.profiles.RFC_9106_LOW_MEMORY``: t=3 passes over m=64 MiB with p=4
lanes, a 16-byte random salt, a 32-byte tag). Why that one: the RFC's first
option takes 2 GiB per hash, which a server answering sign-ins on a small
machine cannot spend on every login; the low-memory profile is the RFC's
choice for that case, and it is also argon2-cffi's default since 21.2. It is
named here rather than taken as "the default", so a library upgrade that moves
its defaults changes nothing silently; changing the profile is one line, and
every stored hash made with other parameters is then replaced at its owner's
next successful sign-in (``needs_rehash``, argon2's ``check_needs_rehash``).
On an idle core one hash takes about 0.1 to 0.2 s; at most ``HASHING_AT_ONCE``
run at once, so a burst of sign-ins cannot take more than that many times
64 MiB.

Hashes from before argon2 (``scrypt$N$r$p$salt$digest``, ``hashlib.scrypt``)
still verify, and ``needs_rehash`` is true for them: ``auth.check_password``
replaces them with an argon2id hash on the next successful sign-in.

``check_new_password`` is the one rule for a password someone chooses (the
CLI, headless init, invitations, the UI's password change). This module keeps
no state but the hasher, never logs a password and runs no SQL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from raymon.server.services.errors import InvalidInputError

MIN_PASSWORD_LENGTH = 8
HASHING_AT_ONCE = 4  # concurrent hashes (64 MiB each) in this process
_HASHER = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
_SLOTS = threading.BoundedSemaphore(HASHING_AT_ONCE)
_SCRYPT_MAXMEM = 2**27
_dummy_hash: str | None = None


def check_new_password(password: object) -> str:
    """``password`` if it may be chosen, else an ``InvalidInputError`` naming the rule."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"a password must be at least {MIN_PASSWORD_LENGTH} characters long")
    return password


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (PHC string: ``$argon2id$v=19$m=65536,t=3,p=4$salt$tag``)."""
    with _SLOTS:
        return _HASHER.hash(password)


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (argon2id, or a scrypt hash of old)."""
    if not isinstance(password, str) or not isinstance(stored, str):
        return False
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        with _SLOTS:
            return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):  # VerifyMismatchError is a VerificationError
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` should be replaced after a successful check: scrypt, or other argon2 parameters."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def spend_like_a_check(password: str) -> None:
    """Take as long as a real check, for a sign-in naming no account (no timing hint that it exists)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password("not a password of anyone: only spends the time of a check")
    verify_password(password, _dummy_hash)


def _verify_scrypt(password: str, stored: str) -> bool:
    """The hashes of Raymon before argon2id: ``scrypt$N$r$p$<salt b64>$<digest b64>``."""
    try:
        _algo, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=_SCRYPT_MAXMEM,
        )
    except ValueError:  # a malformed stored value (or parameters over maxmem) signs nobody in
        return False
    return hmac.compare_digest(actual, expected)
