"""Password policy and argon2id hashing: lengths, parameters, verification and rehashing."""

from __future__ import annotations

import re

import pytest

from auth.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    PasswordHasher,
    check_password_policy,
)
from domain.errors import InvalidInput

PASSWORD = "correct horse battery staple"
# `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<digest>`, salt and digest in unpadded base64.
ARGON2_HASH = re.compile(
    r"^\$(?P<variant>argon2(?:id|i|d))\$v=(?P<version>\d+)"
    r"\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)"
    r"\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<digest>[A-Za-z0-9+/]+)$"
)


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    """The hasher with the current parameters; built once, because it hashes a dummy."""
    return PasswordHasher()


@pytest.fixture(scope="module")
def stored_hash(hasher: PasswordHasher) -> str:
    """A hash of `PASSWORD` made with the current parameters."""
    return hasher.hash(PASSWORD)


# ---------------------------------------------------------------- policy


@pytest.mark.parametrize("length", [0, 1, MIN_PASSWORD_LENGTH - 1, MAX_PASSWORD_LENGTH + 1])
def test_given_a_password_outside_12_to_128_chars_when_checked_then_refused_on_the_field(
    length: int,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_password_policy("p" * length)

    assert set(caught.value.fields) == {"password"}


def test_given_the_boundaries_11_and_129_when_checked_then_the_reason_names_the_limit() -> None:
    with pytest.raises(InvalidInput) as too_short:
        check_password_policy("p" * 11)
    with pytest.raises(InvalidInput) as too_long:
        check_password_policy("p" * 129)

    assert "12" in too_short.value.fields["password"]
    assert "128" in too_long.value.fields["password"]


@pytest.mark.parametrize("length", [MIN_PASSWORD_LENGTH, 64, MAX_PASSWORD_LENGTH])
def test_given_a_password_of_12_to_128_chars_when_checked_then_accepted(length: int) -> None:
    check_password_policy("p" * length)


@pytest.mark.parametrize("bad", ["\x00", "\t", "\n", "\x1b", "\x7f", "\x9b"])
def test_given_a_control_character_in_a_password_when_checked_then_refused(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_password_policy(f"long-enough{bad}password")

    assert caught.value.fields == {"password": "must not contain control characters"}


@pytest.mark.parametrize(
    "spaced", ["correct horse battery", "non\u00a0breaking space", "\U0001f511-key-phrase"]
)
def test_given_spaces_or_emoji_in_a_password_when_checked_then_accepted(spaced: str) -> None:
    check_password_policy(spaced)


def test_given_a_custom_field_name_when_refused_then_the_error_names_that_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_password_policy("short", field="newPassword")

    assert set(caught.value.fields) == {"newPassword"}


def test_given_a_1_mb_password_when_checked_then_the_policy_refuses_it() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_password_policy("x" * 1_000_000)

    assert "128" in caught.value.fields["password"]


def test_given_a_1_mb_password_when_verified_then_false(
    hasher: PasswordHasher, stored_hash: str
) -> None:
    # Refused by length before argon2 sees it, so a huge body cannot buy CPU time.
    long_password = "x" * 1_000_000

    assert hasher.verify(long_password, stored_hash) is False


# ---------------------------------------------------------------- hashing


def test_given_a_password_when_hashed_then_argon2id_with_owasp_parameters(
    stored_hash: str,
) -> None:
    match = ARGON2_HASH.match(stored_hash)

    assert match is not None, stored_hash
    assert match["variant"] == "argon2id"
    assert match["version"] == "19"
    assert (int(match["m"]), int(match["t"]), int(match["p"])) == (19456, 2, 1)
    assert PASSWORD not in stored_hash


def test_given_the_same_password_when_hashed_twice_then_the_salts_differ(
    hasher: PasswordHasher, stored_hash: str
) -> None:
    again = hasher.hash(PASSWORD)

    first, second = ARGON2_HASH.match(stored_hash), ARGON2_HASH.match(again)
    assert first is not None
    assert second is not None
    assert first["salt"] != second["salt"]
    assert stored_hash != again


def test_given_the_right_password_when_verified_then_true(
    hasher: PasswordHasher, stored_hash: str
) -> None:
    assert hasher.verify(PASSWORD, stored_hash) is True


@pytest.mark.parametrize("attempt", [PASSWORD + "!", PASSWORD.upper(), "", PASSWORD[:-1]])
def test_given_a_wrong_password_when_verified_then_false(
    hasher: PasswordHasher, stored_hash: str, attempt: str
) -> None:
    assert hasher.verify(attempt, stored_hash) is False


@pytest.mark.parametrize("missing", [None, ""])
def test_given_no_stored_hash_when_verified_then_false_through_the_dummy_path(
    hasher: PasswordHasher, missing: str | None
) -> None:
    # The dummy's own password must not open an account that has no hash.
    assert hasher.verify(PASSWORD, missing) is False
    assert hasher.verify("dummy-password-for-timing", missing) is False


@pytest.mark.parametrize(
    "malformed",
    [
        "garbage",
        "$argon2id$",
        "$argon2id$v=19$m=19456,t=2,p=1$!!!$!!!",
        "$argon2id$v=19$m=1,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNo",
        "$2b$12$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyzABCD",
        "plain-text-password",
    ],
)
def test_given_a_malformed_stored_hash_when_verified_then_false_not_an_exception(
    hasher: PasswordHasher, malformed: str
) -> None:
    assert hasher.verify(PASSWORD, malformed) is False


def test_given_a_truncated_stored_hash_when_verified_then_false_not_an_exception(
    hasher: PasswordHasher, stored_hash: str
) -> None:
    assert hasher.verify(PASSWORD, stored_hash[:-5]) is False
    assert hasher.verify(PASSWORD, stored_hash[:-5] + "#####") is False


# ---------------------------------------------------------------- rehash


def test_given_a_hash_with_the_current_parameters_when_checked_then_no_rehash_is_needed(
    hasher: PasswordHasher, stored_hash: str
) -> None:
    assert hasher.needs_rehash(stored_hash) is False


@pytest.mark.parametrize(
    "older",
    [{"time_cost": 1}, {"memory_cost": 8192}, {"parallelism": 2}],
    ids=["time_cost=1", "memory_cost=8192", "parallelism=2"],
)
def test_given_a_hash_with_older_parameters_when_checked_then_a_rehash_is_needed(
    hasher: PasswordHasher, older: dict[str, int]
) -> None:
    old_hash = PasswordHasher(**older).hash(PASSWORD)

    assert hasher.verify(PASSWORD, old_hash) is True
    assert hasher.needs_rehash(old_hash) is True
