"""The one module that talks to the OpenID Connect provider (discovery, the token endpoint, its
signing keys), always with timeouts, and that checks the ID token it hands back.

Every failure is an SsoError with a sentence a person can act on; `provider_down` says whether
the provider could not be reached or answered with an error of its own (trying again later may
help) rather than with something Kubernaut refuses.

The flow is the authorization code flow with PKCE (RFC 7636) and a nonce:
https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth
"""

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import jwt
import requests

TIMEOUT = (5, 10)  # seconds to connect, seconds to wait for the answer
METADATA_SECONDS = 3600  # how long discovery and keys are reused before asking again
# Signatures with a public key only: "none" and the HMAC ones (a key shared with the client)
# are never accepted, whatever a token's header says.
ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
CLOCK_SKEW_SECONDS = 60


class SsoError(Exception):
    """Single sign-on failed; the message says why in a sentence a person can act on."""

    def __init__(self, message: str, *, provider_down: bool = False):
        super().__init__(message)
        self.provider_down = provider_down


class UnknownKey(SsoError):
    """The token names a signing key the provider's key set does not (yet) hold."""


@dataclass(frozen=True)
class Provider:
    """What discovery says about the provider (its openid-configuration document)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_auth_methods: tuple[str, ...]


_providers: dict[str, tuple[float, Provider]] = {}
_keys: dict[str, tuple[float, dict]] = {}


def forget_cached() -> None:
    """Drop discovery documents and keys read so far (tests start each provider afresh)."""
    _providers.clear()
    _keys.clear()


def _get_json(url: str, what: str) -> dict:
    try:
        response = requests.get(url, timeout=TIMEOUT, headers={"Accept": "application/json"})
    except requests.RequestException as error:
        raise SsoError(
            f"The identity provider could not be reached for its {what} ({type(error).__name__})."
            " Try again in a minute; if it persists, tell an admin.",
            provider_down=True,
        ) from error
    return _json_of(response, what)


def _json_of(response: requests.Response, what: str) -> dict:
    if response.status_code >= 500:
        raise SsoError(
            f"The identity provider answered HTTP {response.status_code} for its {what}. "
            "Try again in a minute; if it persists, tell an admin.",
            provider_down=True,
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise SsoError(
            f"The identity provider's {what} is not a JSON object (HTTP "
            f"{response.status_code}). An admin should check KUBERNAUT_OIDC_ISSUER."
        )
    return body


def provider(issuer: str) -> Provider:
    """The provider's endpoints, from its discovery document (cached for an hour)."""
    cached = _providers.get(issuer)
    if cached and time.monotonic() - cached[0] < METADATA_SECONDS:
        return cached[1]
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    document = _get_json(url, "discovery document")
    # The issuer a provider names must be the one configured (OpenID Connect Discovery 4.3),
    # or a document from elsewhere could name another provider's endpoints.
    if str(document.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        raise SsoError(
            f"The identity provider calls itself {document.get('issuer')!r}, not {issuer!r}. "
            "An admin should set KUBERNAUT_OIDC_ISSUER to the provider's issuer exactly."
        )
    missing = [
        name
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri")
        if not isinstance(document.get(name), str) or not document[name]
    ]
    if missing:
        raise SsoError(
            f"The identity provider's discovery document lacks {', '.join(missing)}; it does "
            "not look like an OpenID Connect provider."
        )
    found = Provider(
        issuer=document["issuer"],
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        token_auth_methods=tuple(document.get("token_endpoint_auth_methods_supported") or ()),
    )
    _providers[issuer] = (time.monotonic(), found)
    return found


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_secrets() -> dict[str, str]:
    """A state, a nonce and a PKCE code verifier for one sign-in."""
    return {
        "state": secrets.token_urlsafe(32),
        "nonce": secrets.token_urlsafe(32),
        "verifier": secrets.token_urlsafe(64),  # 86 characters; RFC 7636 wants 43 to 128
    }


def authorization_url(
    found: Provider,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: list[str],
    state: str,
    nonce: str,
    verifier: str,
) -> str:
    """Where to send the browser to sign in."""
    challenge = _b64url(hashlib.sha256(verifier.encode()).digest())
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    separator = "&" if "?" in found.authorization_endpoint else "?"
    return f"{found.authorization_endpoint}{separator}{query}"


def exchange_code(
    found: Provider,
    *,
    code: str,
    redirect_uri: str,
    client_id: str,
    client_secret: str,
    verifier: str,
) -> str:
    """Trade the authorization code for tokens at the token endpoint; the ID token."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    headers = {"Accept": "application/json"}
    # client_secret_basic is every provider's default (RFC 8414: when the list is absent); the
    # id and secret are form-encoded first (RFC 6749 2.3.1).
    methods = found.token_auth_methods or ("client_secret_basic",)
    if client_secret and "client_secret_basic" in methods:
        secret_pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(secret_pair.encode()).decode()
    else:
        data["client_id"] = client_id
        if client_secret:
            data["client_secret"] = client_secret
    try:
        response = requests.post(
            found.token_endpoint, data=data, headers=headers, timeout=TIMEOUT, allow_redirects=False
        )
    except requests.RequestException as error:
        raise SsoError(
            f"The identity provider could not be reached to finish signing in "
            f"({type(error).__name__}). Try again in a minute.",
            provider_down=True,
        ) from error
    body = _json_of(response, "token answer")
    if response.status_code != 200 or "error" in body:
        reason = str(body.get("error_description") or body.get("error") or "no reason given")
        raise SsoError(
            f"The identity provider refused to finish the sign-in (HTTP {response.status_code}:"
            f" {reason[:200]}). Start again from the login page; if it persists, an admin "
            "should check the client id and secret."
        )
    id_token = body.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise SsoError(
            "The identity provider sent no ID token. An admin should check that the client may "
            "use OpenID Connect and that KUBERNAUT_OIDC_SCOPES includes openid."
        )
    return id_token


def signing_keys(found: Provider, *, refresh: bool = False) -> dict:
    """The provider's public keys (a JWK Set), cached for an hour unless `refresh`."""
    cached = _keys.get(found.jwks_uri)
    if cached and not refresh and time.monotonic() - cached[0] < METADATA_SECONDS:
        return cached[1]
    keys = _get_json(found.jwks_uri, "signing keys")
    _keys[found.jwks_uri] = (time.monotonic(), keys)
    return keys


def verify_from(found: Provider, id_token: str, *, client_id: str, nonce: str) -> dict:
    """The ID token's claims, checked against the provider's keys; the keys are read again once
    when the token names one they lack (the provider rotated its keys)."""
    try:
        return verify_id_token(
            id_token,
            keys=signing_keys(found),
            issuer=found.issuer,
            client_id=client_id,
            nonce=nonce,
        )
    except UnknownKey:
        return verify_id_token(
            id_token,
            keys=signing_keys(found, refresh=True),
            issuer=found.issuer,
            client_id=client_id,
            nonce=nonce,
        )


def _key_for(keys: dict, kid: str | None, algorithm: str) -> jwt.PyJWK:
    candidates = [
        key
        for key in keys.get("keys") or []
        if isinstance(key, dict)
        and key.get("use", "sig") == "sig"
        and (kid is None or key.get("kid") == kid)
    ]
    if len(candidates) != 1:
        raise UnknownKey(
            "The ID token is signed with a key the identity provider does not publish. "
            "Start again from the login page."
        )
    key = candidates[0]
    if key.get("alg", algorithm) != algorithm:
        raise SsoError(f"The ID token says {algorithm}, but its key is for {key.get('alg')}.")
    try:
        return jwt.PyJWK(key, algorithm=algorithm)
    except jwt.PyJWTError as error:
        raise SsoError(f"The identity provider's key cannot check {algorithm}: {error}") from error


def verify_id_token(
    id_token: str,
    *,
    keys: dict,
    issuer: str,
    client_id: str,
    nonce: str,
) -> dict:
    """The ID token's claims, once its signature (with one of `keys`, a JWK Set), issuer,
    audience, expiry and nonce are right (OpenID Connect Core 3.1.3.7). SsoError otherwise."""
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError as error:
        raise SsoError(f"The identity provider's ID token is malformed ({error}).") from error
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise SsoError(
            f"The ID token is signed with {algorithm!r}; Kubernaut accepts only public-key "
            f"signatures ({', '.join(sorted(ALGORITHMS))})."
        )
    key = _key_for(keys, header.get("kid"), algorithm)
    try:
        claims = jwt.decode(
            id_token,
            key=key.key,
            algorithms=[algorithm],
            audience=client_id,
            issuer=issuer,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise SsoError("The ID token has expired. Start again from the login page.") from error
    except jwt.InvalidSignatureError as error:
        raise SsoError("The ID token's signature is not the identity provider's.") from error
    except jwt.InvalidAudienceError as error:
        raise SsoError(
            f"The ID token was issued to another client (its audience is not {client_id!r}). An "
            "admin should check KUBERNAUT_OIDC_CLIENT_ID."
        ) from error
    except jwt.InvalidIssuerError as error:
        raise SsoError(f"The ID token was issued by another provider, not {issuer!r}.") from error
    except jwt.PyJWTError as error:
        reason = str(error).rstrip(".")
        raise SsoError(f"The identity provider's ID token was refused: {reason}.") from error
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise SsoError("The ID token was issued to another client (azp).")
    if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise SsoError(
            "The ID token was not issued for this sign-in (its nonce differs). Start again from "
            "the login page."
        )
    return claims
