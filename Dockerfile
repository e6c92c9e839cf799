# One image for every service; the command picks the service:
#   docker build -t kulturskole .
#   docker run kulturskole python -m services.registration   (or .scheduling, .notification, .web)
#   docker run kulturskole python deploy/setup.py            (topics, roles, migrations)
#   docker run kulturskole python -m shared.cli dlq list kulturskole.registration.commands

# --- build: the dependencies from pyproject.toml into a virtualenv -----------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The dependency list alone first, so that a code change reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && pip install --no-compile -r requirements.txt

# --- assets: Designsystemet's CSS for the web front, at package-lock.json's versions -----
FROM node:22-slim AS assets
WORKDIR /web
COPY services/web/package.json services/web/package-lock.json ./
RUN npm ci --no-audit --no-fund

# --- runtime: the virtualenv and the code, run as an unprivileged user -------------------
FROM python:3.11-slim AS runtime
LABEL org.opencontainers.image.title="fremtidens-kulturskole" \
      org.opencontainers.image.description="Regional programme platform: registration, scheduling, notification"
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
COPY deploy/setup.py deploy/setup.py
COPY deploy/local/demo.py deploy/local/demo.py
# Byte-compile once here: the code is read-only for the user that runs it.
RUN python -m compileall -q /opt/venv /app
USER 10001:10001
EXPOSE 8001 8002 8003 8004
CMD ["python", "-m", "services.registration"]
