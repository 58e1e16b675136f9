"""compose.scale.yml holds together: every bot process runs a real `maisky` command on the one
PostgreSQL after the schema, the proxy sends Slack to every Slack process and only to those, and the
Discord processes split the shards, each shard once, one process syncing the commands.

No Docker engine runs here, so the stack is not started in these tests: PyYAML reads the compose file
(anchors and merge keys as compose reads them), the real `maisky` parser reads each command, the real
settings read each process's environment, and nginx's upstream is read from deploy/nginx.conf.
tests/adapters/test_scale_out.py runs the same processes on loopback, with a proxy of its own.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from adapters.cli import parser
from bot import Settings
from tests.adapters.discord_fakes import TOKEN
from tests.conftest import ROOT

COMPOSE = ROOT / "compose.scale.yml"


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    return found


def with_defaults(text: str) -> str:
    """A value as compose fills it in when the variable is unset: ${NAME:-default} becomes default."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


def environment(service: dict[str, Any]) -> dict[str, str]:
    return {k: with_defaults(str(v)) for k, v in (service.get("environment") or {}).items()}


def bots() -> dict[str, dict[str, Any]]:
    """The services built from this repository: the bot's own processes."""
    return {name: s for name, s in services().items() if s.get("build") == "."}


def running(command: str, action: str) -> dict[str, dict[str, Any]]:
    found = {}
    for name, service in bots().items():
        args = parser().parse_args(service["command"][1:])
        if args.command == command and getattr(args, "transport", getattr(args, "action", None)) == action:
            found[name] = service
    return found


def test_every_bot_process_runs_maisky_on_the_one_postgresql_after_the_schema() -> None:
    all_services = services()
    assert all_services["db"]["image"].startswith("postgres:")
    assert all_services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    urls = set()
    for name, service in bots().items():
        command = service["command"]
        assert isinstance(command, list) and command[0] == "maisky", name
        parser().parse_args(command[1:])  # a command the real parser takes (it exits on one it does not)
        assert service["env_file"] == ".env", name
        env = environment(service)
        Settings.from_env(env, dotenv=None).check_database()  # a URL the bot can open
        urls.add(env["DATABASE_URL"])
        if name != "migrate":
            assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
            assert service["stop_grace_period"] == "30s", name  # longer than MAISKY_SHUTDOWN_SECONDS' 20
            assert service["restart"] == "unless-stopped", name
    assert urls == {"postgresql://maisky:maisky@db:5432/maisky"}  # one database, the compose file's own
    assert parser().parse_args(all_services["migrate"]["command"][1:]).db == "upgrade"
    assert len(running("slack", "http")) >= 2 and len(running("discord", "run")) >= 2
    # each platform a profile (a club on one platform starts only its side); the database with either
    profiles = {n: tuple(s.get("profiles") or ()) for n, s in all_services.items()}
    assert profiles == {
        "db": (), "migrate": (), "proxy": ("slack",),
        **dict.fromkeys(running("slack", "http"), ("slack",)), **dict.fromkeys(running("discord", "run"), ("discord",)),
    }  # fmt: skip


def test_the_proxy_sends_slack_to_every_slack_process_and_only_those() -> None:
    proxy = services()["proxy"]
    assert proxy["image"].startswith("nginx:")
    (mount,) = proxy["volumes"]
    source, target, mode = mount.split(":")
    config = ROOT / source
    assert config.is_file() and target == "/etc/nginx/nginx.conf" and mode == "ro"
    text = re.sub(r"#.*", "", config.read_text(encoding="utf-8"))  # the directives, without their comments
    upstream = re.search(r"upstream\s+(\w+)\s*\{(.*?)\}", text, re.S)
    assert upstream is not None
    servers = set(re.findall(r"^\s*server\s+([\w.-]+):(\d+)", upstream.group(2), re.M))
    slack = running("slack", "http")
    assert servers == {(name, environment(s)["PORT"]) for name, s in slack.items()}
    assert f"proxy_pass http://{upstream.group(1)};" in text
    listen = re.search(r"^\s*listen\s+(\d+);", text, re.M)
    (published,) = proxy["ports"]
    assert listen is not None and with_defaults(published).endswith(f":{listen.group(1)}")
    assert with_defaults(published).startswith("127.0.0.1:")  # published on loopback unless MAISKY_PUBLISH says
    assert "proxy_next_upstream error timeout;" in text  # nginx never resends a POST that a process may have had
    assert "non_idempotent" not in text
    assert set(proxy["depends_on"]) == set(slack)
    for name, service in slack.items():
        assert environment(service)["HOST"] == "0.0.0.0", name  # reachable from the proxy's container
        assert "/healthz" in " ".join(service["healthcheck"]["test"]), name


def test_the_discord_processes_run_each_shard_once_and_one_syncs_the_commands() -> None:
    discord = running("discord", "run")
    settings = {
        name: Settings.from_env({**environment(s), "DISCORD_TOKEN": TOKEN}, dotenv=None).discord()
        for name, s in discord.items()
    }
    (count,) = {ds.shards for ds in settings.values()}  # the same total on every process
    assert count is not None and count >= len(discord)
    shards = [i for ds in settings.values() for i in ds.shard_ids or ()]
    assert sorted(shards) == list(range(count))  # together every shard, each once
    assert sum(ds.syncs_commands for ds in settings.values()) == 1
