# Kubernaut's production image. One image, three roles (docker-entrypoint.sh):
#   web (default): gunicorn on :8000   worker: python manage.py qcluster   migrate: migrations
# Configuration comes from the environment (docs/configuration.md); deploy/ runs it on Kubernetes.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# The pinned dependencies first, in their own layer: a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# .dockerignore keeps .venv, var/, .env and tests out of the context.
COPY . .
RUN pip install --no-deps . \
    && chmod 0755 docker-entrypoint.sh

# collectstatic needs settings, not a database or real secrets. The files land in var/static,
# which whitenoise serves.
RUN SECRET_KEY=build-only DATABASE_URL=postgresql://build/none \
    python manage.py collectstatic --no-input -v 0

# Non-root, with nothing it may write to in /app: the web and worker need only /tmp.
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin kubernaut
USER 10001
EXPOSE 8000
ENTRYPOINT ["/app/docker-entrypoint.sh"]
CMD ["web"]
