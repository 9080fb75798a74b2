"""Access tokens against forgeries made with the test's own keys; opaque refresh tokens.

Every rejection test builds a token that differs from a valid one in one way only; the
control test `..._hand_signed_valid_claims_..._accepted` shows the unchanged claims pass.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from auth.tokens import TokenCodec, TokenConfig
from domain.errors import Unauthenticated

SECRET = "test-signing-secret-" + "s" * 44
OTHER_SECRET = "attacker-secret-" + "a" * 48
ISSUER = "taskgraph-prod"
AUDIENCE = "taskgraph-api"
ACCESS_TTL = 900


def _config(algorithm: str, signing_key: str, verifying_key: str) -> TokenConfig:
    return TokenConfig(
        algorithm=algorithm,
        signing_key=signing_key,
        verifying_key=verifying_key,
        issuer=ISSUER,
        audience=AUDIENCE,
        access_ttl_seconds=ACCESS_TTL,
        refresh_ttl_seconds=30 * 24 * 3600,
    )


def _pem_pair(private_key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> tuple[str, str]:
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


@pytest.fixture(scope="module")
def rsa_pair() -> tuple[str, str]:
    """A fresh RSA key pair as (private PEM, public PEM)."""
    return _pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def ed25519_pair() -> tuple[str, str]:
    """A fresh Ed25519 key pair as (private PEM, public PEM)."""
    return _pem_pair(ed25519.Ed25519PrivateKey.generate())


@pytest.fixture
def codec() -> TokenCodec:
    """A codec configured for HS256 with `SECRET`."""
    return TokenCodec(_config("HS256", SECRET, SECRET))


@pytest.fixture
def rs256_codec(rsa_pair: tuple[str, str]) -> TokenCodec:
    """A codec configured for RS256: signs with the private key, checks with the public."""
    private_pem, public_pem = rsa_pair
    return TokenCodec(_config("RS256", private_pem, public_pem))


def _now() -> int:
    return int(datetime.now(UTC).timestamp())


def valid_claims(**overrides: Any) -> dict[str, Any]:
    """The claims `issue_access` would put in a token for user 42, with `overrides`."""
    now = _now()
    claims: dict[str, Any] = {
        "sub": "42",
        "iat": now,
        "nbf": now,
        "exp": now + ACCESS_TTL,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": "0123456789abcdef0123456789abcdef",
        "typ": "access",
    }
    return claims | overrides


def sign(claims: dict[str, Any], key: str = SECRET, algorithm: str = "HS256") -> str:
    """`claims` signed by PyJWT, as an attacker holding `key` would."""
    return jwt.encode(claims, key, algorithm=algorithm)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def hmac_by_hand(claims: dict[str, Any], key: bytes, alg: str = "HS256") -> str:
    """An HMAC-SHA256 token built without PyJWT, which refuses some keys and claims."""
    signing_input = f"{_segment({'alg': alg, 'typ': 'JWT'})}.{_segment(claims)}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(mac)}"


def assert_rejected(codec: TokenCodec, token: str) -> None:
    """The codec refuses `token` with `Unauthenticated` (and nothing else)."""
    with pytest.raises(Unauthenticated):
        codec.decode_access(token)


# ---------------------------------------------------------------- round trips


def test_given_an_issued_hs256_token_when_decoded_then_user_jti_and_expiry_round_trip(
    codec: TokenCodec,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)

    issued = codec.issue_access(42, now=now)
    claims = codec.decode_access(issued.token)

    assert claims.user_id == 42
    assert claims.jti == issued.jti
    assert claims.issued_at == now
    assert claims.expires_at == issued.expires_at == now + timedelta(seconds=ACCESS_TTL)


def test_given_two_issued_tokens_when_compared_then_their_jtis_differ(codec: TokenCodec) -> None:
    first, second = codec.issue_access(1), codec.issue_access(1)

    assert first.jti != second.jti
    assert len(first.jti) >= 32


def test_given_hand_signed_valid_claims_when_decoded_then_accepted(codec: TokenCodec) -> None:
    # The control for every rejection below: only the one changed detail makes them fail.
    assert codec.decode_access(sign(valid_claims())).user_id == 42
    assert codec.decode_access(hmac_by_hand(valid_claims(), SECRET.encode())).user_id == 42


def test_given_an_rs256_key_pair_when_a_token_is_issued_then_it_round_trips(
    rs256_codec: TokenCodec, rsa_pair: tuple[str, str]
) -> None:
    issued = rs256_codec.issue_access(7)

    assert jwt.get_unverified_header(issued.token)["alg"] == "RS256"
    assert rs256_codec.decode_access(issued.token).user_id == 7
    # Verifying needs only the public key: a codec without the private key accepts it too.
    public_only = TokenCodec(_config("RS256", "", rsa_pair[1]))
    assert public_only.decode_access(issued.token).jti == issued.jti


def test_given_an_ed25519_key_pair_when_a_token_is_issued_then_it_round_trips(
    ed25519_pair: tuple[str, str],
) -> None:
    private_pem, public_pem = ed25519_pair
    eddsa = TokenCodec(_config("EdDSA", private_pem, public_pem))

    issued = eddsa.issue_access(9)

    assert jwt.get_unverified_header(issued.token)["alg"] == "EdDSA"
    assert eddsa.decode_access(issued.token).user_id == 9


# ---------------------------------------------------------------- forged signatures


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_given_an_alg_none_token_when_decoded_then_rejected(codec: TokenCodec, alg: str) -> None:
    unsigned = f"{_segment({'alg': alg, 'typ': 'JWT'})}.{_segment(valid_claims())}."

    assert_rejected(codec, unsigned)


@pytest.mark.parametrize("pair", ["rsa", "ed25519"])
def test_given_an_hs256_token_keyed_with_the_public_pem_when_decoded_then_rejected(
    request: pytest.FixtureRequest, pair: str
) -> None:
    private_pem, public_pem = request.getfixturevalue(f"{pair}_pair")
    algorithm = "RS256" if pair == "rsa" else "EdDSA"
    codec = TokenCodec(_config(algorithm, private_pem, public_pem))
    # Algorithm confusion: the public key is no secret, so an attacker can HMAC with it.
    # PyJWT refuses a PEM as an HMAC key, so the signature is made by hand.
    assert_rejected(codec, hmac_by_hand(valid_claims(), public_pem.encode()))


def test_given_a_token_signed_with_another_secret_when_decoded_then_rejected(
    codec: TokenCodec,
) -> None:
    assert_rejected(codec, sign(valid_claims(), key=OTHER_SECRET))


def test_given_a_token_signed_with_another_rsa_key_when_decoded_then_rejected(
    rs256_codec: TokenCodec,
) -> None:
    attacker_private, _ = _pem_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    assert_rejected(rs256_codec, sign(valid_claims(), key=attacker_private, algorithm="RS256"))


def test_given_a_valid_signature_over_a_tampered_payload_when_decoded_then_rejected(
    codec: TokenCodec,
) -> None:
    header, _, signature = sign(valid_claims()).split(".")
    tampered = _segment(valid_claims(sub="1"))

    assert_rejected(codec, f"{header}.{tampered}.{signature}")


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "a.b.c", "...", "Bearer x.y.z", "eyJhbGciOiJIUzI1NiJ9", "\x00\xff"],
)
def test_given_a_garbage_string_when_decoded_then_rejected(codec: TokenCodec, garbage: str) -> None:
    assert_rejected(codec, garbage)


def test_given_a_token_without_its_signature_when_decoded_then_rejected(
    codec: TokenCodec,
) -> None:
    header, payload, _ = sign(valid_claims()).split(".")

    assert_rejected(codec, f"{header}.{payload}.")


# ---------------------------------------------------------------- claims


@pytest.mark.parametrize("audience", ["other-api", "taskgraph", "taskgraph-api-x", ["other"]])
def test_given_a_wrong_audience_when_decoded_then_rejected(
    codec: TokenCodec, audience: str | list[str]
) -> None:
    assert_rejected(codec, sign(valid_claims(aud=audience)))


@pytest.mark.parametrize(
    "issuer",
    [
        "someone-else",
        "taskgraph",  # a prefix of the configured issuer
        "taskgraph-prod-evil",  # has the configured issuer as its prefix
        "prod",  # a substring
        "TASKGRAPH-PROD",
        "",
    ],
)
def test_given_a_wrong_issuer_when_decoded_then_rejected(codec: TokenCodec, issuer: str) -> None:
    assert_rejected(codec, sign(valid_claims(iss=issuer)))


def test_given_an_issuer_list_containing_the_right_one_when_decoded_then_rejected(
    codec: TokenCodec,
) -> None:
    # PyJWT will not encode a non-string `iss`, so the token is built by hand.
    assert_rejected(codec, hmac_by_hand(valid_claims(iss=[ISSUER]), SECRET.encode()))


@pytest.mark.parametrize("claim", ["sub", "exp", "iat", "nbf", "iss", "aud", "jti", "typ"])
def test_given_a_token_missing_a_required_claim_when_decoded_then_rejected(
    codec: TokenCodec, claim: str
) -> None:
    claims = valid_claims()
    del claims[claim]

    assert_rejected(codec, sign(claims))


def test_given_nbf_beyond_the_5_second_leeway_when_decoded_then_rejected(
    codec: TokenCodec,
) -> None:
    assert_rejected(codec, sign(valid_claims(nbf=_now() + 60)))


def test_given_nbf_within_the_5_second_leeway_when_decoded_then_accepted(
    codec: TokenCodec,
) -> None:
    # Clock skew between instances must not reject a fresh token.
    assert codec.decode_access(sign(valid_claims(nbf=_now() + 2))).user_id == 42


def test_given_an_expired_token_when_decoded_then_rejected(codec: TokenCodec) -> None:
    assert_rejected(codec, sign(valid_claims(exp=_now() - 60)))


def test_given_a_token_issued_longer_ago_than_its_ttl_when_decoded_then_rejected(
    codec: TokenCodec,
) -> None:
    long_ago = datetime.now(UTC) - timedelta(seconds=ACCESS_TTL + 60)

    assert_rejected(codec, codec.issue_access(42, now=long_ago).token)


@pytest.mark.parametrize("typ", ["refresh", "Access", "ACCESS", "", "id"])
def test_given_a_token_whose_typ_is_not_access_when_decoded_then_rejected(
    codec: TokenCodec, typ: str
) -> None:
    assert_rejected(codec, sign(valid_claims(typ=typ)))


@pytest.mark.parametrize("subject", ["abc", "", "1.5", "-1", " 1", "1 ", "0x1", "1e3", 42])
def test_given_a_non_numeric_subject_when_decoded_then_rejected(
    codec: TokenCodec, subject: object
) -> None:
    assert_rejected(codec, sign(valid_claims(sub=subject)))


@pytest.mark.parametrize("subject", ["²", "١٢", "9" * 5000], ids=["superscript", "arabic", "long"])
def test_given_a_subject_that_is_digits_only_to_unicode_when_decoded_then_rejected(
    codec: TokenCodec, subject: str
) -> None:
    assert_rejected(codec, sign(valid_claims(sub=subject)))


@pytest.mark.parametrize("expiry", [10**12, 10**20])
def test_given_an_expiry_beyond_the_datetime_range_when_decoded_then_rejected(
    codec: TokenCodec, expiry: int
) -> None:
    assert_rejected(codec, sign(valid_claims(exp=expiry)))


# ---------------------------------------------------------------- refresh tokens


def test_given_two_new_refresh_tokens_when_compared_then_they_differ_and_are_long() -> None:
    first, second = TokenCodec.new_refresh_token(), TokenCodec.new_refresh_token()

    assert first != second
    assert len(first) >= 40
    assert len(second) >= 40
    assert re.fullmatch(r"[A-Za-z0-9_-]+", first), "URL-safe, so it travels in a cookie"


def test_given_a_refresh_token_when_hashed_then_sha256_hex_and_deterministic() -> None:
    token = TokenCodec.new_refresh_token()

    stored = TokenCodec.hash_refresh_token(token)

    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert TokenCodec.hash_refresh_token(token) == stored
    assert TokenCodec.hash_refresh_token(token + "x") != stored
    assert token not in stored


# ------------------------------------------------------------------ checked tokens remembered


class Clock:
    """A wall clock the test moves."""

    def __init__(self) -> None:
        self.now = float(_now())

    def __call__(self) -> float:
        return self.now


def test_given_a_checked_token_when_used_again_then_the_same_claims() -> None:
    codec = TokenCodec(_config("HS256", SECRET, SECRET), clock=Clock())
    token = sign(valid_claims())

    first = codec.decode_access(token)

    assert codec.decode_access(token) == first
    assert first.user_id == 42


@pytest.mark.parametrize(
    ("moved", "is_accepted"),
    [
        (ACCESS_TTL + 4, True),  # within the leeway past `exp`, as PyJWT allows
        (ACCESS_TTL + 5, False),  # past `exp` and the leeway
        (-5, True),  # the clock went back, within the leeway of `nbf` and `iat`
        (-6, False),  # before `nbf` and `iat`, past the leeway
    ],
)
def test_given_a_remembered_token_when_its_time_is_over_then_refused_like_a_new_one(
    moved: int, is_accepted: bool
) -> None:
    # Given a token checked once, at its issue time
    clock = Clock()
    issued = int(clock.now)
    codec = TokenCodec(_config("HS256", SECRET, SECRET), clock=clock)
    token = sign(valid_claims(iat=issued, nbf=issued, exp=issued + ACCESS_TTL))
    codec.decode_access(token)

    # When it comes back after the clock moved
    clock.now = issued + moved

    # Then the remembered token passes exactly when PyJWT's time checks would pass
    if is_accepted:
        assert codec.decode_access(token).user_id == 42
    else:
        with pytest.raises(Unauthenticated):
            codec.decode_access(token)


def test_given_many_tokens_when_checked_then_only_the_latest_are_remembered() -> None:
    codec = TokenCodec(_config("HS256", SECRET, SECRET), clock=Clock(), max_checked=2)
    tokens = [sign(valid_claims(jti=f"token{n}")) for n in range(3)]

    for token in tokens:
        codec.decode_access(token)

    # The oldest was forgotten: bounded memory whatever the number of callers.
    assert list(codec._checked) == tokens[1:]
    assert codec.decode_access(tokens[0]).jti == "token0"  # checked afresh, still valid
