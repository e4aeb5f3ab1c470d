"""Password hashing (services.passwords): argon2id with RFC 9106's low-memory profile, old hashes still
verify and are flagged for replacement, and the one rule for a chosen password."""

from __future__ import annotations

import pytest
from legacy_hashes import scrypt_hash, weak_argon2_hash

from raymon.server.services import passwords
from raymon.server.services.errors import InvalidInputError

PASSWORD = "correct horse battery staple"


def test_a_new_hash_is_argon2id_with_the_rfc_9106_low_memory_parameters() -> None:
    stored = passwords.hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify_password(PASSWORD, stored)
    assert not passwords.verify_password(PASSWORD + "!", stored)
    assert not passwords.needs_rehash(stored)
    assert passwords.hash_password(PASSWORD) != stored  # a random salt each time


def test_an_old_scrypt_hash_verifies_and_is_due_for_replacement() -> None:
    stored = scrypt_hash(PASSWORD)
    assert passwords.verify_password(PASSWORD, stored)
    assert not passwords.verify_password("another password", stored)
    assert passwords.needs_rehash(stored)


def test_an_argon2_hash_with_other_parameters_verifies_and_is_due_for_replacement() -> None:
    stored = weak_argon2_hash(PASSWORD)
    assert passwords.verify_password(PASSWORD, stored)
    assert passwords.needs_rehash(stored)


@pytest.mark.parametrize(
    "stored", ["", "scrypt$1$2", "scrypt$x$8$1$AAAA$AAAA", "$argon2id$nonsense", "plain"]
)
def test_a_malformed_stored_hash_signs_nobody_in(stored: str) -> None:
    assert not passwords.verify_password(PASSWORD, stored)
    assert passwords.needs_rehash(stored)


def test_a_chosen_password_must_have_the_minimum_length() -> None:
    assert passwords.check_new_password("x" * passwords.MIN_PASSWORD_LENGTH)
    with pytest.raises(InvalidInputError, match="at least 8 characters"):
        passwords.check_new_password("x" * (passwords.MIN_PASSWORD_LENGTH - 1))
    with pytest.raises(InvalidInputError):
        passwords.check_new_password(None)
