"""Logging set-up: text or JSON lines, request ids, secrets redacted, library noise and bodies kept out."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from adapters.lifecycle import LIBRARY_REWRITES
from bot import Settings
from bot.ops.logs import REDACTED, request_context, setup

SECRET_TOKEN = "xoxb-9999-8888-verysecretvalue"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """The root logger's handlers as they were, restored after the test (pytest's own included)."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    out = io.StringIO()
    yield out
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved:
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


def test_json_lines_carry_the_request_id_and_the_traceback_inside(stream: io.StringIO) -> None:
    setup("INFO", "json", stream=stream)
    log = logging.getLogger("maisky.test")
    with request_context("req-42"):
        log.info("answered %s", "eden")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    log.debug("not at INFO")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["message"] for e in lines] == ["answered eden", "failed"]
    assert all(e["request_id"] == "req-42" and e["logger"] == "maisky.test" for e in lines)
    assert "ValueError: boom" in lines[1]["exception"]


def test_text_lines_show_the_request_id(stream: io.StringIO) -> None:
    setup("DEBUG", "text", stream=stream)
    with request_context() as rid:
        logging.getLogger("x").debug("hello")
    assert stream.getvalue().rstrip().endswith(f"x: hello [request {rid}]")


def test_every_configured_secret_and_token_shape_is_redacted(stream: io.StringIO) -> None:
    env = {"SLACK_BOT_TOKEN": SECRET_TOKEN, "SLACK_SIGNING_SECRET": "signing-secret-123", "DISCORD_TOKEN": "d.t.x",
           "DATABASE_URL": "postgresql://maisky:p%40ss-word@db:5432/maisky"}  # fmt: skip
    settings = Settings.from_env(env, dotenv=None)
    setup("DEBUG", "json", secret_values=settings.secret_values(), stream=stream)
    log = logging.getLogger("any.library")
    log.info("token %s secret %s", SECRET_TOKEN, "signing-secret-123")
    log.info("connecting to postgresql://maisky:p@ss-word@db:5432/maisky and postgresql://maisky:p%40ss-word@db")
    log.info("someone else's token xoxp-12345678-abcdefgh and an app token xapp-1-A111-222-abc")
    try:
        raise RuntimeError(f"auth failed for {SECRET_TOKEN}")
    except RuntimeError:
        log.exception("with traceback")
    text = stream.getvalue()
    for secret in (SECRET_TOKEN, "signing-secret-123", "p@ss-word", "p%40ss-word", "xoxp-12345678", "xapp-1-A111"):
        assert secret not in text
    assert text.count(REDACTED) >= 7


def test_bolts_body_carrying_and_start_up_messages_are_cut(stream: io.StringIO) -> None:
    """The messages as bolt's own code logs them, through bolt's own loggers."""
    from slack_bolt.middleware.request_verification import RequestVerification
    from slack_bolt.request import BoltRequest
    from slack_bolt.response import BoltResponse

    setup("DEBUG", "text", rewrites=LIBRARY_REWRITES, stream=stream)
    body = "text=BODY-MARK-1&user_id=U1"
    request = BoltRequest(body=body, headers={"x-slack-request-timestamp": ["1"], "x-slack-signature": ["v0=x"]})
    answer = RequestVerification("secret").process(req=request, resp=BoltResponse(status=200), next=lambda: None)
    assert answer.status == 401
    logging.getLogger("slack_bolt.App").warning("As you gave `client` as well, `token` will be unused.")
    logging.getLogger("discord.client").warning("PyNaCl is not installed, voice will NOT be supported")
    text = stream.getvalue()
    assert "BODY-MARK-1" not in text and "Invalid request signature detected (body not logged)" in text
    assert "token` will be unused" not in text and "PyNaCl" not in text


def test_setup_twice_does_not_double_lines(stream: io.StringIO) -> None:
    setup("INFO", "text", stream=stream)
    setup("INFO", "text", stream=stream)
    logging.getLogger("y").info("once")
    assert stream.getvalue().count("once") == 1
