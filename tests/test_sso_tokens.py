"""sso.oidc.verify_id_token: only a token signed by the provider's key, for this client and this
sign-in, and not expired, is believed. Tokens are signed here with a key made for the test."""

import base64
import hashlib
import json
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from sso import oidc

ISSUER = "https://idp.example"
CLIENT = "kubernaut"
NONCE = "n-0S6_WzA2Mj"


def make_key(kid: str = "k1"):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = {**RSAAlgorithm.to_jwk(private.public_key(), as_dict=True), "kid": kid}
    return private, public_jwk


@pytest.fixture(scope="module")
def key():
    return make_key()


def claims(**overrides) -> dict:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "248289761001", "aud": CLIENT, "exp": now + 300, "iat": now,
            "nonce": NONCE, "preferred_username": "dana"}  # fmt: skip
    body.update(overrides)
    return {name: value for name, value in body.items() if value is not None}


def sign(private, body: dict, kid: str | None = "k1", algorithm: str = "RS256") -> str:
    return jwt.encode(body, private, algorithm=algorithm, headers={"kid": kid} if kid else None)


def verify(token: str, public_jwk: dict, nonce: str = NONCE) -> dict:
    return oidc.verify_id_token(
        token, keys={"keys": [public_jwk]}, issuer=ISSUER, client_id=CLIENT, nonce=nonce
    )


def test_a_token_signed_by_the_provider_gives_its_claims(key):
    private, public_jwk = key
    assert verify(sign(private, claims()), public_jwk)["preferred_username"] == "dana"


def test_a_tampered_payload_fails_the_signature(key):
    private, public_jwk = key
    header, _, signature = sign(private, claims()).split(".")
    forged = base64.urlsafe_b64encode(json.dumps(claims(sub="0")).encode()).rstrip(b"=").decode()
    with pytest.raises(oidc.SsoError, match="signature is not the identity provider's"):
        verify(f"{header}.{forged}.{signature}", public_jwk)


def test_a_token_signed_with_another_key_under_the_same_kid_is_refused(key):
    _, public_jwk = key
    other_private, _ = make_key()
    with pytest.raises(oidc.SsoError, match="signature"):
        verify(sign(other_private, claims()), public_jwk)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "another-client"}, "audience"),
        ({"iss": "https://evil.example"}, "another provider"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"nonce": "from-another-sign-in"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"sub": None}, "sub"),
        ({"aud": [CLIENT, "another-client"]}, "azp"),
    ],
)
def test_a_token_for_another_client_issuer_time_or_sign_in_is_refused(key, overrides, reason):
    private, public_jwk = key
    with pytest.raises(oidc.SsoError, match=reason):
        verify(sign(private, claims(**overrides)), public_jwk)


def test_several_audiences_are_fine_when_azp_is_this_client(key):
    private, public_jwk = key
    token = sign(private, claims(aud=[CLIENT, "api"], azp=CLIENT))
    assert verify(token, public_jwk)["azp"] == CLIENT


def test_an_unsigned_token_is_refused(key):
    _, public_jwk = key
    token = jwt.encode(claims(), None, algorithm="none")
    with pytest.raises(oidc.SsoError, match="public-key signatures"):
        verify(token, public_jwk)


def test_a_token_signed_with_a_shared_secret_is_refused(key):
    _, public_jwk = key
    # The classic confusion: HMAC "signed" with the public key's bytes.
    token = jwt.encode(claims(), "a-secret-anyone-could-know-32-bytes!", algorithm="HS256")
    with pytest.raises(oidc.SsoError, match="public-key signatures"):
        verify(token, public_jwk)


def test_a_token_naming_an_unknown_key_says_so(key):
    private, public_jwk = key
    with pytest.raises(oidc.UnknownKey):
        verify(sign(private, claims(), kid="rotated-away"), public_jwk)


def test_a_token_without_kid_uses_the_only_key(key):
    private, public_jwk = key
    assert verify(sign(private, claims(), kid=None), public_jwk)["sub"] == "248289761001"


def test_an_algorithm_the_key_is_not_for_is_refused(key):
    private, public_jwk = key
    with pytest.raises(oidc.SsoError, match="its key is for RS256"):
        verify(sign(private, claims(), algorithm="PS256"), {**public_jwk, "alg": "RS256"})


def test_elliptic_curve_keys_work_too():
    private = ec.generate_private_key(ec.SECP256R1())
    public_jwk = {**ECAlgorithm.to_jwk(private.public_key(), as_dict=True), "kid": "k1"}
    assert verify(sign(private, claims(), algorithm="ES256"), public_jwk)["iss"] == ISSUER


def test_malformed_tokens_are_refused(key):
    _, public_jwk = key
    with pytest.raises(oidc.SsoError, match="malformed"):
        verify("not.a-token", public_jwk)


def test_the_authorization_url_carries_state_nonce_and_an_s256_challenge():
    found = oidc.Provider(ISSUER, f"{ISSUER}/authorize?tenant=1", f"{ISSUER}/token",
                          f"{ISSUER}/keys", ())  # fmt: skip
    new = oidc.new_secrets()
    url = oidc.authorization_url(
        found, client_id=CLIENT, redirect_uri="https://kubernaut.example/sso/callback",
        scopes=["openid", "email"], **new,
    )  # fmt: skip
    query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
    digest = hashlib.sha256(new["verifier"].encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert query["code_challenge_method"] == "S256"
    assert (query["tenant"], query["state"], query["nonce"]) == ("1", new["state"], new["nonce"])
    assert query["scope"] == "openid email"
    assert 43 <= len(new["verifier"]) <= 128
