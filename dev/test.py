"""`make test`: the whole suite against a throwaway PostgreSQL, plus lint and migration checks.

Extra arguments go to pytest (`make test ARGS="-k releases -x"`). pytest's exit code 5 (no tests
collected) counts as a failure: a suite that runs nothing must not pass.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import postgres  # noqa: E402  (the sibling script)

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"


def run(command: list[str], env: dict[str, str]) -> int:
    print("+ " + " ".join(command), flush=True)
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def main() -> int:
    (ROOT / "var").mkdir(exist_ok=True)
    server_dir = Path(tempfile.mkdtemp(prefix="test-postgres-", dir=ROOT / "var"))
    try:
        database_url = postgres.start(server_dir, fast=True)
        env = {
            **os.environ,
            "KUBERNAUT_ENV_FILE": "",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-only-secret-key-not-for-production",
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
        }
        checks = [
            [str(BIN / "ruff"), "check", "."],
            [str(BIN / "python"), "manage.py", "makemigrations", "--check", "--dry-run"],
            # Tests of pages and the live server use the collected files, as production does.
            [str(BIN / "python"), "manage.py", "collectstatic", "--no-input", "-v", "0"],
        ]
        for check in checks:
            if run(check, env) != 0:
                return 1
        code = run([str(BIN / "pytest"), *sys.argv[1:]], env)
        if code == 5:
            print("pytest collected no tests: that is a failure, not a pass.", file=sys.stderr)
            return 1
        return code
    finally:
        postgres.stop(server_dir)
        shutil.rmtree(postgres.reachable_dir(server_dir), ignore_errors=True)
        shutil.rmtree(server_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
