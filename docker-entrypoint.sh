#!/bin/sh
# Kubernaut's entrypoint, in its container and outside one:
#   docker-entrypoint.sh web       gunicorn serving the web app and the API (the default)
#   docker-entrypoint.sh worker    the django-q2 worker that runs deployments
#   docker-entrypoint.sh migrate   apply database migrations, then exit
# Anything else is run as given (`docker run IMAGE python manage.py shell`).
# Configuration is the environment of kubernaut/settings.py (docs/configuration.md).
set -eu
cd "$(dirname "$0")"
# Outside a container, use the project's virtualenv when one exists and none is active.
if [ -z "${VIRTUAL_ENV:-}" ] && [ -x .venv/bin/python ]; then
    PATH="$PWD/.venv/bin:$PATH"
fi

command="${1:-web}"
[ "$#" -gt 0 ] && shift
case "$command" in
    web)
        # A request longer than --timeout is a bug, not a slow rollout (those run in the worker).
        # --forwarded-allow-ips: the Ingress controller's X-Forwarded-Proto is trusted.
        # gthread, because sync workers close the connection after every response (gunicorn's
        # docs: they never keep alive), so each CI request paid a new TCP connection. Each thread
        # holds at most one database connection: workers x threads per pod must fit PostgreSQL's
        # max_connections (100 by default) with the other pods and the worker.
        exec gunicorn kubernaut.wsgi \
            --bind "${KUBERNAUT_BIND:-0.0.0.0:${PORT:-8000}}" \
            --workers "${WEB_CONCURRENCY:-3}" \
            --worker-class gthread \
            --threads "${GUNICORN_THREADS:-4}" \
            --keep-alive "${GUNICORN_KEEPALIVE:-5}" \
            --timeout "${GUNICORN_TIMEOUT:-60}" \
            --graceful-timeout 25 \
            --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-*}" \
            --access-logfile - \
            "$@"
        ;;
    worker)
        exec python manage.py qcluster "$@"
        ;;
    migrate)
        exec python manage.py migrate --no-input "$@"
        ;;
    *)
        exec "$command" "$@"
        ;;
esac
