# One image for every service; the command picks the service:
#   docker build -t kulturskole:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg SOURCE=https://git.example.org/kulturskole .
#   docker run kulturskole python -m services.registration   (or .scheduling, .notification, .web)
#   docker run kulturskole python deploy/setup.py            (topics, roles, migrations)
#   docker run kulturskole kulturskole dlq list kulturskole.registration.commands
# Nothing of the local demo is in it (deploy/local/demo.py stays in the repository).

# The base by version, not a floating tag: a rebuild gets the same Python and Debian.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- build: the dependencies from pyproject.toml into a virtualenv, then the project -----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# The dependency list alone first, so that a code change reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install --no-compile -r /tmp/requirements.txt
# The project itself, in place at /app (where the runtime stage puts the same files), so
# its entry point `kulturskole` is on the PATH; no dependency is fetched again.
COPY shared/ shared/
COPY services/ services/
RUN pip install --no-compile --no-deps -e /app

# --- assets: Designsystemet's CSS for the web front, at package-lock.json's versions -----
FROM node:22.12.0-bookworm-slim AS assets
WORKDIR /web
COPY services/web/package.json services/web/package-lock.json ./
RUN npm ci --no-audit --no-fund

# --- runtime: the virtualenv and the code, run as an unprivileged user -------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="fremtidens-kulturskole" \
      org.opencontainers.image.description="Regional programme platform: registration, scheduling, notification" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KS_REGISTRATION_HTTP_HOST=0.0.0.0 \
    KS_SCHEDULING_HTTP_HOST=0.0.0.0 \
    KS_NOTIFICATION_HTTP_HOST=0.0.0.0 \
    KS_WEB_HTTP_HOST=0.0.0.0
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY pyproject.toml ./
COPY shared/ shared/
COPY services/ services/
COPY --from=assets /web/node_modules services/web/node_modules
COPY deploy/setup.py deploy/healthcheck.py deploy/
# Byte-compile once here: the code is read-only for the user that runs it.
RUN python -m compileall -q /opt/venv /app
USER 10001:10001
EXPOSE 8001 8002 8003 8004
# The service in process 1 answers /healthz (deploy/healthcheck.py); the set-up and CLI
# commands have nothing to check. Kubernetes ignores this and uses the chart's probes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "deploy/healthcheck.py"]
CMD ["python", "-m", "services.registration"]
