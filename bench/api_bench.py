"""Latency and throughput of the API and the overview page against a seeded database.

    URL=$(.venv/bin/python dev/postgres.py start var/benchpg)
    DATABASE_URL=$URL .venv/bin/python manage.py migrate
    DATABASE_URL=$URL .venv/bin/python manage.py seed_bench   # 1M releases, 200k deployments
    DATABASE_URL=$URL .venv/bin/python bench/api_bench.py [--requests 400]

Prints a Markdown table (p50/p95/p99 latency, requests/s) at concurrency 1 and 8.
"""

import argparse
import base64
import http.client
import json
import re
import sys
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HEADER, Gunicorn, load, manage  # noqa: E402

ADMIN_PASSWORD = "bench-admin-password"  # noqa: S105 (a throwaway benchmark database)


def get_json(port: int, path: str, token: str) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers={"Authorization": f"Token {token}"})
    return json.loads(connection.getresponse().read())


def session_cookie(port: int) -> str:
    """Log in through the login form, as a browser does."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/login/")
    response = connection.getresponse()
    page = response.read().decode()
    csrf_cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie")).group(1)
    csrf_field = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode(
        {"username": "admin", "password": ADMIN_PASSWORD, "csrfmiddlewaretoken": csrf_field}
    )
    connection.request(
        "POST", "/login/", body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Cookie": f"csrftoken={csrf_cookie}", "Referer": f"http://127.0.0.1:{port}/"},
    )  # fmt: skip
    response = connection.getresponse()
    response.read()
    session = re.search(r"sessionid=([^;]+)", response.getheader("Set-Cookie") or "")
    if not session:
        sys.exit("Could not log in to the overview page.")
    return f"sessionid={session.group(1)}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400, help="per request kind and level")
    args = parser.parse_args()

    import os

    os.environ["KUBERNAUT_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    manage("ensure_admin")
    token = manage("create_api_token", "admin", "--name", "bench")
    server = Gunicorn()
    try:
        port = server.port
        auth = {"Authorization": f"Token {token}"}
        newest = get_json(port, "/api/releases?limit=1", token)["results"][0]["id"]
        third = base64.b64encode(f"p={newest // 3}".encode()).decode()
        page = get_json(port, f"/api/releases?limit=500&cursor={third}", token)
        ids = [release["id"] for release in page["results"]]
        service = page["results"][0]["service"]  # a seeded service, with hundreds of releases
        deep = base64.b64encode(f"p={newest // 2}".encode()).decode()
        cookie = session_cookie(port)
        template = Path("examples/hello-world/kubernetes.yaml").read_text()
        counter = [0]

        def post(number: int):
            counter[0] += 1
            body = json.dumps({
                "service": "bench-post", "version": f"{os.getpid()}.{counter[0]}",
                "template": template, "attributes": {"image": "x:1", "replicas": "2"},
            }).encode()  # fmt: skip
            return "POST", "/api/releases", body, {**auth, "Content-Type": "application/json"}

        kinds = [
            ("GET /api/releases (first page)", lambda n: ("GET", "/api/releases", None, auth), 200),
            ("GET /api/releases?service=... (filtered)",
             lambda n: ("GET", f"/api/releases?service={service}", None, auth), 200),
            ("GET /api/releases?cursor=... (deep page)",
             lambda n: ("GET", f"/api/releases?cursor={deep}", None, auth), 200),
            ("GET /api/releases/{id}",
             lambda n: ("GET", f"/api/releases/{ids[n % len(ids)]}", None, auth), 200),
            ("POST /api/releases", post, 201),
            ("GET /api/deployments (first page)",
             lambda n: ("GET", "/api/deployments", None, auth), 200),
            ("GET / (overview page)", lambda n: ("GET", "/", None, {"Cookie": cookie}), 200),
        ]  # fmt: skip
        print(HEADER)
        for name, make, expect in kinds:
            for concurrency in (1, 8):
                load(name, port, make, concurrency=concurrency, requests=20, expect=expect)  # warm
                result = load(
                    name, port, make, concurrency=concurrency, requests=args.requests,
                    expect=expect,
                )  # fmt: skip
                print(result.line(), flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
