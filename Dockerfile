# Kubernaut's production image: gunicorn serving the web app; the same image runs the worker
# (`python manage.py qcluster`) and migrations (`python manage.py migrate`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml ./
COPY kubernaut ./kubernaut
COPY accounts ./accounts
COPY releases ./releases
COPY deployments ./deployments
COPY sandbox ./sandbox
RUN pip install .

COPY manage.py ./
COPY templates ./templates
COPY static ./static
COPY examples ./examples
# collectstatic needs settings, not a database or real secrets.
RUN SECRET_KEY=build-only DATABASE_URL=postgresql://build/none python manage.py collectstatic --no-input -v 0

RUN useradd --system --uid 10001 kubernaut
USER 10001
EXPOSE 8000
CMD ["gunicorn", "kubernaut.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
