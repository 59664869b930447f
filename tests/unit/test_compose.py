"""No Docker engine runs here: validate docker/docker-compose.yml against the Compose Specification's JSON schema
(docker/compose-spec.schema.json, vendored verbatim from github.com/compose-spec/compose-spec,
schema/compose-spec.json, Apache-2.0) and check what a schema cannot: every Airflow 3.3 service shares the
JWT secret, API secret key and Fernet key; the named volumes the Airflow user writes are handed to it; every
``depends_on`` target exists; host ports do not clash; the admin login is the one the README documents.
Where a ``docker-compose`` (Debian's 1.29.2) or ``docker compose`` binary exists, ``config -q`` runs too."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "docker-compose.yml"
SCHEMA = DOCKER / "compose-spec.schema.json"
ENV_EXAMPLE = DOCKER / ".env.example"
GEN_ENV = DOCKER / "gen-env.sh"
SHARED_SECRETS = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY")
AIRFLOW_COMPONENTS = {"api-server", "scheduler", "dag-processor", "triggerer"}
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
# images that define their own HEALTHCHECK (axllent/mailpit: `/mailpit readyz`)
OWN_HEALTHCHECK = {"mailpit"}


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return doc


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def command_text(service: dict[str, Any]) -> str:
    parts = []
    for key in ("entrypoint", "command"):
        value = service.get(key) or []
        parts += [value] if isinstance(value, str) else value
    return " ".join(parts)


def airflow_services() -> dict[str, dict[str, Any]]:
    image = compose()["x-airflow-common"]["image"]
    return {name: s for name, s in services().items() if s.get("image") == image}


def volume_mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read_only) of every mount, short or long syntax."""
    out = []
    for v in service.get("volumes", []):
        if isinstance(v, str):
            source, target, *mode = v.split(":")
            out.append((source, target, "ro" in "".join(mode).split(",")))
        else:
            out.append((v.get("source", ""), v["target"], bool(v.get("read_only"))))
    return out


def requires(name: str) -> set[str]:
    """Every service ``name`` waits for, directly or through others."""
    svc, out, todo = services(), set(), [name]
    while todo:
        for target in svc[todo.pop()].get("depends_on", {}):
            if target not in out:
                out.add(target)
                todo.append(target)
    return out


def is_path(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def env_example() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    return {k.strip(): v.strip() for k, v in pairs}


def readme_deployment() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Deployment (docker/)", 1)[1]
    return section.split("\n## ", 1)[0]


# ---------------------------------------------------------------------------------------------- the spec


def test_compose_file_validates_against_the_compose_spec_schema() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_the_schema_rejects_what_compose_rejects() -> None:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    bad = [{"services": {"a": {"image": "x", "depends_on": {"b": {"condition": "started"}}}}},
           {"services": {"a": {"imag": "x"}}},
           {"services": {"a": {"image": "x"}}, "volume": {"v": None}}]
    for doc in bad:
        assert list(validator.iter_errors(doc)), doc


def compose_binary() -> list[str]:
    """docker-compose (Debian's package, installed by scripts/install-test-tools.sh) or `docker compose`."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    raise AssertionError("no docker-compose: run scripts/install-test-tools.sh (apt-get install docker-compose)")


def test_compose_config_accepts_the_file() -> None:
    binary = compose_binary()
    env = {**os.environ, **{k: v or f"test-{k.lower()}" for k, v in env_example().items()}}
    run = subprocess.run([*binary, "-f", str(COMPOSE), "config", "-q"], cwd=DOCKER, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


# ---------------------------------------------------------------------------------------------- Airflow


def test_every_airflow_service_shares_the_jwt_secret_api_secret_key_and_fernet_key() -> None:
    airflow = airflow_services()
    assert len(airflow) >= len(AIRFLOW_COMPONENTS)
    example = env_example()
    generated = GEN_ENV.read_text(encoding="utf-8")
    for secret in SHARED_SECRETS:
        values = {name: environment(s).get(secret) for name, s in airflow.items()}
        assert None not in values.values(), f"{secret} missing in {[n for n, v in values.items() if v is None]}"
        assert len(set(values.values())) == 1, f"{secret} differs between services: {values}"
        (value,) = set(values.values())
        match = INTERPOLATION.fullmatch(value)
        assert match and match.group(2) == ":?", f"{secret} must come from docker/.env, required: {value}"
        assert match.group(1) in example, f"{match.group(1)} is not in docker/.env.example"
        assert f"{match.group(1)}=" in generated, f"docker/gen-env.sh does not write {match.group(1)}"
    for name, s in services().items():
        if name not in airflow:
            assert not set(SHARED_SECRETS) & set(environment(s)), f"{name} gets Airflow's secrets"


def test_every_interpolated_variable_is_documented_or_defaulted() -> None:
    example = env_example()
    for name, op, _ in INTERPOLATION.findall(COMPOSE.read_text(encoding="utf-8")):
        assert name in example or op in ("-", ":-"), f"${{{name}}} is neither in .env.example nor defaulted"
    assert set(example) <= set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", GEN_ENV.read_text(encoding="utf-8"), re.M))


def test_airflow_3_components_run_and_tasks_reach_the_api_server() -> None:
    airflow = airflow_services()
    commands = {name: command_text(s) for name, s in airflow.items()}
    for component in AIRFLOW_COMPONENTS:
        assert [n for n, c in commands.items() if c.split()[:1] == [component]], f"no {component} service"
    api = next(n for n, c in commands.items() if c.split()[:1] == ["api-server"])
    executor = {environment(s)["AIRFLOW__CORE__EXECUTOR"] for s in airflow.values()}
    assert len(executor) == 1
    if executor == {"CeleryExecutor"}:
        assert [n for n, c in commands.items() if "celery worker" in c], "CeleryExecutor without a worker"
    for name, s in airflow.items():
        url = urlsplit(environment(s)["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert url.hostname == api and url.path == "/execution/", (name, url)
        assert any(str(p).endswith(f":{url.port}") for p in airflow[api]["ports"]), url
    migrate = [n for n, c in commands.items() if "airflow db migrate" in c]
    assert migrate, "nothing runs `airflow db migrate`"
    for name in commands:
        if name not in migrate and services()[name].get("restart") != "no":
            assert services()[name]["depends_on"][migrate[0]]["condition"] == "service_completed_successfully"


def test_admin_login_is_the_one_the_readme_documents() -> None:
    airflow = airflow_services()
    for s in airflow.values():
        env = environment(s)
        assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("SimpleAuthManager")
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
        assert env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False") == "False"
    (passwords,) = {environment(s)["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] for s in airflow.values()}
    # the file lives on a named volume every Airflow service mounts, written by the init service
    for name, s in airflow.items():
        assert any(passwords.startswith(t + "/") and not is_path(src) for src, t, _ in volume_mounts(s)), name
    writers = [n for n, s in airflow.items() if "AIRFLOW_ADMIN_PASSWORD" in environment(s)]
    assert len(writers) == 1 and "SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" in command_text(airflow[writers[0]])
    readme = readme_deployment()
    assert "`admin`" in readme and "AIRFLOW_ADMIN_PASSWORD" in readme and "gen-env.sh" in readme
    for doc in (readme, COMPOSE.read_text(encoding="utf-8")):
        assert not re.search(r"admin\s*/\s*admin", doc), "the password is not admin"


# ---------------------------------------------------------------------------------------------- volumes


def test_named_volumes_are_declared_used_and_writable_by_the_airflow_user() -> None:
    declared = set(compose()["volumes"])
    used = set()
    for name, s in services().items():
        for source, _, _ in volume_mounts(s):
            if is_path(source):
                assert (DOCKER / source).resolve().exists(), f"{name}: bind mount {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert used == declared, f"declared but unused: {declared - used}"

    airflow = airflow_services()
    writable = {t for s in airflow.values() for src, t, ro in volume_mounts(s) if not is_path(src) and not ro}
    assert writable
    owners = [n for n, s in airflow.items() if str(s.get("user")) in ("0", "0:0", "root")]
    assert len(owners) == 1, "one root one-shot service hands the volumes to the Airflow user"
    owner = services()[owners[0]]
    script = command_text(owner)
    assert owner["restart"] == "no" and "chown" in script
    uid = compose()["x-airflow-common"]["user"]
    assert uid.startswith("${AIRFLOW_UID:-50000}") and "${AIRFLOW_UID:-50000}" in script
    for target in writable:
        assert target in script, f"{owners[0]} does not chown {target}"
        assert target in (DOCKER / "Dockerfile").read_text(encoding="utf-8"), f"Dockerfile lacks {target}"
    for name, s in airflow.items():
        assert s["user"] == uid or name in owners, name
        if name not in owners:
            assert owners[0] in requires(name), f"{name} may start before {owners[0]} chowned the volumes"


# ---------------------------------------------------------------------------------------------- graph, ports


def test_every_depends_on_target_exists_and_the_graph_has_no_cycle() -> None:
    svc = services()
    for name, s in svc.items():
        deps = s.get("depends_on", {})
        deps = dict.fromkeys(deps, {"condition": "service_started"}) if isinstance(deps, list) else deps
        for target, rule in deps.items():
            assert target in svc, f"{name} depends on unknown {target}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in svc[target], f"{name} waits for {target} to be healthy: no healthcheck"
            if rule["condition"] == "service_completed_successfully":
                assert svc[target].get("restart") == "no", f"{target} is a one-shot: restart 'no'"

    state: dict[str, str] = {}

    def visit(name: str) -> None:
        assert state.get(name) != "open", f"depends_on cycle through {name}"
        if name not in state:
            state[name] = "open"
            for target in svc[name].get("depends_on", {}):
                visit(target)
            state[name] = "done"

    for name in svc:
        visit(name)


def host_ports(service: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for p in service.get("ports", []):
        if isinstance(p, dict):
            out.append((str(p.get("published")), p.get("protocol", "tcp")))
            continue
        spec, _, proto = str(p).partition("/")
        parts = spec.rsplit(":", 2)
        if len(parts) > 1:
            out.append((parts[-2], proto or "tcp"))
    return out


def test_host_ports_do_not_clash_and_bind_to_localhost() -> None:
    published = [port for s in services().values() for port in host_ports(s)]
    assert published
    clashes = [p for p, n in Counter(published).items() if n > 1]
    assert not clashes, clashes
    for s in services().values():
        for p in s.get("ports", []):
            assert str(p).startswith("127.0.0.1:"), f"{p}: published beyond this machine"


def test_long_running_services_have_healthchecks() -> None:
    for name, s in services().items():
        if s.get("restart") != "no" and name not in OWN_HEALTHCHECK:
            assert s.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_kibana_init_imports_the_saved_objects_and_fails_on_partial_import() -> None:
    svc = services()
    init = svc["kibana-init"]
    script = command_text(init)
    assert "/api/saved_objects/_import" in script and "kbn-xsrf" in script
    assert '"success":true' in script, "the import API answers 200 with success:false on errors"
    ((source, target, ro),) = volume_mounts(init)
    assert ro and (DOCKER / source / "newswatch.ndjson").is_file()
    assert f"file=@{target}/newswatch.ndjson" in script
    assert init["depends_on"]["kibana"]["condition"] == "service_healthy"


def test_the_image_builds_from_the_repository_with_a_dockerfile_ignore_file() -> None:
    build = compose()["x-airflow-common"]["build"]
    context = (DOCKER / build["context"]).resolve()
    dockerfile = context / build["dockerfile"]
    assert dockerfile.is_file() and context == REPO
    text = dockerfile.read_text(encoding="utf-8")
    assert re.search(r"^FROM apache/airflow:3\.3\.\d+-python3\.11$", text, re.M)
    ignore = dockerfile.with_name(dockerfile.name + ".dockerignore").read_text(encoding="utf-8")
    assert "*" in ignore.splitlines(), "ignore everything, then re-include what the Dockerfile copies"
    for copied in re.findall(r"^COPY .*? (\S+) /opt/newswatch/\S*$", text, re.M):
        assert f"!{copied}" in ignore, copied
