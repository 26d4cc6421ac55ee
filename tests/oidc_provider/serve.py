"""Run the test OpenID Connect provider on 127.0.0.1 (a free port), with one client and some
users, until terminated. The first line on stdout is JSON: {"issuer": ..., "url": ...}.

    python -m tests.oidc_provider.serve --redirect-uri http://localhost:8000/sso/callback \
        --client-id kubernaut --client-secret s3cret --user dana:pw:payments,web

A new RSA signing key and a new SQLite database are made at every start.
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def rsa_private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def set_up(redirect_uri: str, client_id: str, client_secret: str, users: list[str]) -> None:
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0)
    for spec in users:
        username, password, groups = (spec.split(":") + [""])[:3]
        user = User.objects.create_user(
            username, email=f"{username}@example.test", password=password
        )
        for name in filter(None, groups.split(",")):
            user.groups.add(Group.objects.get_or_create(name=name)[0])
    Application.objects.create(
        name="Kubernaut",
        client_id=client_id,
        client_secret=client_secret,  # hashed on save; the caller keeps the plain text
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=redirect_uri,
        algorithm=Application.RS256_ALGORITHM,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redirect-uri", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--user", action="append", default=[], help="name:password:group,group")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="oidc-provider-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oidc_provider.settings"
    os.environ["OIDC_PROVIDER_DB"] = str(workdir / "provider.sqlite3")
    os.environ["OIDC_PROVIDER_RSA_KEY"] = rsa_private_key_pem()

    import django

    django.setup()
    set_up(args.redirect_uri, args.client_id, args.client_secret, args.user)

    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    server = ThreadedWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(get_wsgi_application())
    url = f"http://127.0.0.1:{server.server_port}"
    print(json.dumps({"issuer": f"{url}/o", "url": url}), flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
