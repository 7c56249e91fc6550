# backprop-viz for a classroom: one container, 30-200 students, no internet needed.
# Build:  docker build -t backprop-viz .
# Run:    see "For teachers" in README.md.

# ---- build stage: resolve and install the pinned runtime environment -------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
# requirements.lock pins the runtime with the redis extra: BPV_REDIS_URL works in the image.
COPY requirements.lock ./
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir -r requirements.lock

# ---- final stage: only what runs ---------------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
RUN useradd --no-log-init --create-home --uid 10001 bpv
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/backprop-viz
COPY app/ app/
COPY static/ static/
COPY templates/ templates/
USER 10001
EXPOSE 8000
# No curl in the image: the health check uses the Python that is already there.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
# Many streaming clients: WebSocket compression off (about 2x throughput per client),
# small incoming messages, a concurrency limit ~3 connections per student for 200 students,
# and a graceful shutdown that closes streams instead of hanging on them. The HTTP protocol
# is uvicorn's httptools one with a header deadline and size cap, and idle connections not
# counted against the limit (app/api/connections.py).
CMD ["uvicorn", "app.main:create_app", "--factory", "--http", "app.api.connections:ClassroomHttpProtocol", "--host", "0.0.0.0", "--port", "8000", "--ws", "app.api.websocket_protocol:ClassroomWebSocketProtocol", "--ws-per-message-deflate", "false", "--ws-max-size", "65536", "--ws-max-queue", "32", "--limit-concurrency", "600", "--backlog", "1024", "--timeout-graceful-shutdown", "5", "--timeout-keep-alive", "5", "--no-server-header"]
