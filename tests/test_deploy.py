"""The deployment artefacts agree with the code: app.yml, Dockerfile, fly.toml, Kubernetes manifests.

No container engine runs in CI, so the image is not built: these checks read each artefact and hold
it against what the code serves, handles and parses (routes, events, CLI commands, ports).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from bot.cli import main as cli
from bot.settings import load_settings
from bot.web import events
from bot.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
FOOTGUN = str(Path(sys.executable).with_name("footgun"))

AUTOMATIC_EVENTS = {"installation", "installation_repositories"}
"""Delivered to every App without subscribing; GitHub refuses them in a manifest's default_events."""
EVENT_PERMISSION = {
    "pull_request": "pull_requests",
    "pull_request_review_comment": "pull_requests",
    "issue_comment": "issues",
    "check_run": "checks",
    "check_suite": "checks",
}
"""The permission GitHub requires before an App may subscribe to each event."""
PERMISSIONS = {
    "checks": "write",
    "pull_requests": "write",
    "issues": "write",
    "contents": "read",
    "metadata": "read",
}
"""What the bot calls: check runs, reviews and comments, replies and cleanup issues, file content."""


@pytest.fixture(scope="module")
def served_paths() -> set[str]:
    app = create_app(load_settings(app_id=None, private_key=None, webhook_secret=None))
    return {route.path for route in app.routes}


def parse_cli(argv: list[str]):
    """The CLI's own parser on `argv` (without the program name); fails the test on a usage error."""
    try:
        return cli.build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"`footgun {' '.join(argv)}` is not a valid command")


# -- app.yml ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load((ROOT / "app.yml").read_text())


def test_manifest_subscribes_to_exactly_the_events_the_intake_handles(manifest):
    assert set(manifest["default_events"]) == set(events.ROUTES) - AUTOMATIC_EVENTS
    assert len(manifest["default_events"]) == len(set(manifest["default_events"]))


def test_manifest_asks_for_the_permissions_the_bot_uses_and_its_events_need(manifest):
    assert manifest["default_permissions"] == PERMISSIONS
    for event in manifest["default_events"]:
        assert EVENT_PERMISSION[event] in manifest["default_permissions"], event


def test_manifest_webhook_and_setup_urls_point_at_served_paths(manifest, served_paths):
    hook = manifest["hook_attributes"]
    assert hook["active"] is True
    for url in (hook["url"], manifest["redirect_url"], manifest["setup_url"]):
        assert url.startswith("https://")
        assert "/" + url.split("/", 3)[3] in served_paths
    assert hook["url"].endswith("/webhooks")
    assert manifest["public"] is False
    assert {"name", "url", "description"} <= set(manifest)


# -- Dockerfile -----------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        if raw.lstrip().startswith("#"):
            continue
        current += raw.rstrip().removesuffix("\\") + " "
        if not raw.rstrip().endswith("\\"):
            if current.strip():
                word, _, rest = current.strip().partition(" ")
                lines.append((word.upper(), rest.strip()))
            current = ""
    return lines


def stages() -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for instruction in dockerfile():
        if instruction[0] == "FROM":
            out.append([])
        out[-1].append(instruction)
    return out


def exec_form(arguments: str) -> list[str]:
    return json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)


def exposed_port() -> int:
    [port] = [args for word, args in stages()[-1] if word == "EXPOSE"]
    return int(port.split("/")[0])


def test_dockerfile_is_multi_stage_and_runs_as_a_non_root_user():
    built = stages()
    assert len(built) >= 2
    final = built[-1]
    assert any(word == "COPY" and args.startswith("--from=") for word, args in final)
    users = [args for word, args in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    compilers = [args for word, args in final if word == "RUN" and "gcc" in args]
    assert compilers == [], "the toolchain belongs in the build stage"


def test_dockerfile_cmd_is_a_cli_command_on_the_exposed_port():
    [cmd] = [exec_form(args) for word, args in stages()[-1] if word == "CMD"]
    assert cmd[0] == "footgun"
    args = parse_cli(cmd[1:])
    assert args.handler is cli.run_serve
    assert args.port == exposed_port()
    assert args.host == "0.0.0.0"


def test_dockerfile_healthcheck_hits_a_served_path_on_the_served_port(served_paths):
    [check] = [args for word, args in stages()[-1] if word == "HEALTHCHECK"]
    match = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/]*)", check)
    assert match, check
    assert int(match[1]) == exposed_port()
    assert match[2] in served_paths


def test_every_dockerfile_copy_source_exists():
    for word, args in dockerfile():
        if word != "COPY" or args.startswith("--from="):
            continue
        *sources, _ = exec_form(args)
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def test_the_image_puts_migrations_where_the_code_looks_and_ships_the_manifest():
    """bot/db.py runs Alembic from `migrations/` beside the `bot` package, with no alembic.ini."""
    from bot import db

    assert Path(db.__file__).resolve().parents[1] / "migrations" == db.MIGRATIONS
    assert "alembic.ini" not in (ROOT / "Dockerfile").read_text().replace("alembic.ini is for", "")
    build = " ".join(args for word, args in stages()[0] if word == "RUN")
    # the package carries its migrations (see the wheel test): no second copy beside them
    assert "cp -r migrations" not in build
    assert "--require-hashes -r requirements.lock" in build, "the image installs the lock"
    assert "pip install --no-deps ." in build
    final = stages()[-1]
    env = " ".join(args for word, args in final if word == "ENV")
    manifest_path = re.search(r"FOOTGUN_APP_MANIFEST=(\S+)", env)[1]
    assert any(
        word == "COPY" and exec_form(args) == ["app.yml", manifest_path] for word, args in final
    )
    assert re.search(r"FOOTGUN_DATABASE_URL=sqlite\+aiosqlite:////data/", env)
    assert any(word == "VOLUME" and "/data" in args for word, args in final)


# -- fly.toml -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fly() -> dict:
    return tomllib.loads((ROOT / "fly.toml").read_text())


def test_fly_serves_the_dockerfile_port_and_checks_a_served_path(fly, served_paths):
    service = fly["http_service"]
    assert service["internal_port"] == exposed_port()
    assert [check["path"] for check in service["checks"]] and all(
        check["path"] in served_paths for check in service["checks"]
    )
    assert service["auto_stop_machines"] in ("off", False), "in-process workers must keep running"
    assert fly["build"]["dockerfile"] == "Dockerfile"


def test_fly_release_command_is_the_migration_command(fly):
    command = fly["deploy"]["release_command"]
    assert command == "footgun db upgrade"
    assert parse_cli(shlex.split(command)[1:]).handler is cli.run_db_upgrade


def test_fly_keeps_the_sqlite_database_on_its_volume(fly):
    [mount] = fly["mounts"]
    url = fly["env"]["FOOTGUN_DATABASE_URL"]
    assert url.startswith(f"sqlite+aiosqlite:///{mount['destination']}/")


# -- Kubernetes ---------------------------------------------------------------------------------


def kubernetes() -> list[dict]:
    documents = []
    for path in sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml")):
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


def containers() -> list[dict]:
    out = []
    for doc in kubernetes():
        if doc["kind"] == "Deployment":
            out += doc["spec"]["template"]["spec"]["containers"]
    return out


def test_kubernetes_probes_hit_served_paths_on_the_container_port(served_paths):
    [bot] = containers()
    ports = {port["name"]: port["containerPort"] for port in bot["ports"]}
    args = parse_cli(bot["args"][1:])
    assert bot["args"][0] == "footgun" and args.handler is cli.run_serve
    assert ports["http"] == args.port
    for probe in ("readinessProbe", "livenessProbe"):
        get = bot[probe]["httpGet"]
        assert get["path"] in served_paths
        assert ports.get(get["port"], get["port"]) == args.port


def test_kubernetes_init_container_runs_the_migration_command():
    [deployment] = [d for d in kubernetes() if d["kind"] == "Deployment"]
    [init] = deployment["spec"]["template"]["spec"]["initContainers"]
    assert init["command"][0] == "footgun"
    assert parse_cli(init["command"][1:]).handler is cli.run_db_upgrade


def test_kubernetes_service_targets_the_named_port_and_the_mesh_lets_github_in(served_paths):
    docs = kubernetes()
    [service] = [d for d in docs if d["kind"] == "Service"]
    [bot] = containers()
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= {p["name"] for p in bot["ports"]}
    [policy] = [d for d in docs if d["kind"] == "AuthorizationPolicy"]
    allowed = {
        path
        for rule in policy["spec"]["rules"]
        for to in rule["to"]
        for path in to["operation"]["paths"]
    }
    assert {"/webhooks", "/setup", "/healthz", "/readyz"} <= allowed
    assert "/setup/complete" in served_paths


def test_footgun_check_finds_nothing_in_the_bots_own_deployment():
    result = subprocess.run(
        [FOOTGUN, "check", "deploy/", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["findings"], report["skipped"]) == ([], [])


def test_public_urls_are_the_hosts_github_reaches(fly):
    assert fly["env"]["FOOTGUN_PUBLIC_URL"] == f"https://{fly['app']}.fly.dev"
    [bot] = containers()
    env = {item["name"]: item.get("value") for item in bot.get("env", [])}
    host = env["FOOTGUN_PUBLIC_URL"].removeprefix("https://")
    [gateway] = [d for d in kubernetes() if d["kind"] == "Gateway"]
    assert all(host in server["hosts"] for server in gateway["spec"]["servers"])
    load_settings(
        public_url=env["FOOTGUN_PUBLIC_URL"], credentials_file=env["FOOTGUN_CREDENTIALS_FILE"]
    )


def test_pre_commit_hook_runs_a_cli_command():
    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    entry = shlex.split(hook["entry"]) + hook.get("args", [])
    assert entry[0] == "footgun" and parse_cli(entry[1:]).handler is cli.run_check
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False, "cross-resource rules need the whole repository"


# -- docs/deploy.md and docs/ci.md --------------------------------------------------------------

DOCS = [ROOT / "docs" / "deploy.md", ROOT / "docs" / "ci.md"]
SHELL_OPERATORS = {"|", "||", "&&", ";", "&", ">", ">>", "<", "2>"}


def code_lines(path: Path) -> list[str]:
    """Lines of the fenced code blocks, continuations joined, YAML `- ` and `run: ` prefixes cut."""
    lines, inside, pending = [], False, ""
    for raw in path.read_text().splitlines():
        if raw.lstrip().startswith("```"):
            inside = not inside
            continue
        if not inside:
            continue
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        line = re.sub(r"^(?:- )?(?:run: )?", "", line)
        lines.append(re.sub(r"\$\{\{[^}]*\}\}", "GHA_EXPRESSION", line))
    return lines


def footgun_invocations(path: Path) -> list[list[str]]:
    """Each `footgun ...` command of the code blocks, also as a `docker run IMAGE footgun ...`."""
    found = []
    for line in code_lines(path):
        if not re.search(r"(^|\s)footgun\s", line):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        commands, current = [], []
        for token in lexer:
            if token in SHELL_OPERATORS or set(token) <= set("|&;<>"):
                commands.append(current)
                current = []
            else:
                current.append(token)
        commands.append(current)
        for words in commands:
            while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
                words = words[1:]
            if words[:1] == ["footgun"]:
                found.append(words[1:])
            elif words[:2] == ["docker", "run"]:
                at = [
                    i
                    for i, word in enumerate(words)
                    if word == "footgun" and words[i - 1] != "--name"
                ]
                if at:
                    found.append(words[at[-1] + 1 :])
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_footgun_command_in_the_docs_parses(doc):
    invocations = footgun_invocations(doc)
    assert invocations, f"{doc.name} shows no footgun command"
    for argv in invocations:
        parse_cli(argv)


def test_the_docs_show_the_commands_platform_teams_need():
    handlers = {parse_cli(argv).handler for doc in DOCS for argv in footgun_invocations(doc)}
    assert {cli.run_serve, cli.run_db_upgrade, cli.run_check, cli.run_diff} <= handlers
    formats = {
        parse_cli(argv).format
        for argv in footgun_invocations(ROOT / "docs" / "ci.md")
        if hasattr(parse_cli(argv), "format")
    }
    assert {"sarif", "github"} <= formats
    ci = (ROOT / "docs" / "ci.md").read_text()
    assert "github/codeql-action/upload-sarif@" in ci and "security-events: write" in ci


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_setting_the_docs_name_exists(doc):
    from bot.settings import PREFIX, Settings

    named = set(re.findall(r"\bFOOTGUN_[A-Z_]+\b", doc.read_text()))
    known = {PREFIX + field.upper() for field in Settings.model_fields}
    assert named - known == set()


def test_the_docs_code_blocks_are_valid_yaml_where_they_are_yaml():
    for doc in DOCS:
        blocks = re.findall(r"```yaml\n(.*?)```", doc.read_text(), re.DOTALL)
        for block in blocks:
            assert yaml.safe_load(block) is not None


def test_the_wheel_carries_the_migrations_without_a_packaging_warning(tmp_path):
    """What `pip install .` (the image) installs: Alembic's env.py, template and every version,
    as packages setuptools knows (no "migrations.versions is absent" warning)."""
    import subprocess
    import sys
    import zipfile

    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert "migrations.versions" not in built.stdout + built.stderr
    [wheel] = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    versions = sorted(p.name for p in (ROOT / "migrations" / "versions").glob("*.py"))
    assert {"migrations/env.py", "migrations/script.py.mako"} <= names
    assert {f"migrations/versions/{v}" for v in versions} <= names


def test_the_locks_pin_every_declared_dependency_with_hashes():
    """requirements.lock (the image) and requirements-dev.lock (make, CI) pin every dependency
    pyproject.toml declares, at a version it allows, each with its hashes: `make lock` refreshes
    them after a change."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def pins(lock: str) -> dict[str, str]:
        found: dict[str, str] = {}
        hashed: dict[str, bool] = {}
        name = ""
        for line in (ROOT / lock).read_text().splitlines():
            if line[:1].isalnum():
                requirement, _, version = line.split(";")[0].split("\\")[0].strip().partition("==")
                name = canonicalize_name(requirement.split("[")[0])
                found[name], hashed[name] = version, False
            elif line.strip().startswith("--hash=sha256:") and name:
                hashed[name] = True
        assert all(hashed.values()), (
            f"{lock}: pins without hashes: {[n for n, h in hashed.items() if not h]}"
        )
        return found

    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    for lock, pinned, declared in (
        ("requirements.lock", runtime, project["dependencies"]),
        (
            "requirements-dev.lock",
            dev,
            project["dependencies"] + project["optional-dependencies"]["dev"],
        ),
    ):
        for spec in map(Requirement, declared):
            if spec.marker is not None and not spec.marker.evaluate():
                continue
            name = canonicalize_name(spec.name)
            assert name in pinned, f"{lock} lacks {spec.name}: run `make lock`"
            assert spec.specifier.contains(pinned[name], prereleases=True), (
                f"{lock} pins {spec.name}=={pinned[name]}, outside {spec.specifier}: run `make lock`"
            )


def test_ci_run_is_tracked_not_ignored():
    import subprocess

    ignored = subprocess.run(
        ["git", "-C", str(ROOT), "check-ignore", "-q", ".ci/run"], capture_output=True
    )
    assert ignored.returncode == 1, ".gitignore hides .ci/run"
