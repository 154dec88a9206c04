"""The stacks' settings file without starting a stack: scripts/stack.sh reads .env the way Compose
does (docker/settings.py exports), refuses the example secrets the way docker-compose.yaml's
check-secrets service does, and writes a new .env with fresh secrets when there is none."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stack.compose_stack import stack_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / ".env.example"
SETTINGS_SCRIPT = ROOT / "docker" / "settings.py"
STACK_SCRIPT = ROOT / "scripts" / "stack.sh"
EXAMPLE_FERNET_KEY = "c2Vuc29yLWxzdG0tbG9jYWwtZGV2ZWxvcG1lbnQtMDE="

# The forms an .env takes, and the values Compose reads from them.
FORMS = """
# a comment line
QUOTE_DOUBLE="two words # not a comment"
QUOTE_SINGLE='literal ${NOT_EXPANDED}'
export EXPORTED=from-an-export-line
INLINE_COMMENT=value # a comment
EQUALS_INSIDE=a=b==
EMPTY=
AIRFLOW_JWT_SECRET=the-file-loses-to-the-environment
"""
EXPECTED = {
    "AIRFLOW_FERNET_KEY": EXAMPLE_FERNET_KEY,
    "QUOTE_DOUBLE": "two words # not a comment",
    "QUOTE_SINGLE": "literal ${NOT_EXPANDED}",
    "EXPORTED": "from-an-export-line",
    "INLINE_COMMENT": "value",
    "EQUALS_INSIDE": "a=b==",
    "EMPTY": "",
    "AIRFLOW_JWT_SECRET": "from-the-environment",
}


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment without any of the stack's settings, plus ``extra``."""
    example_keys = set(stack_settings().read(EXAMPLE)) | set(EXPECTED) | {stack_settings().ALLOW_FLAG}
    return {key: value for key, value in os.environ.items() if key not in example_keys} | extra


def run_check(environ: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SETTINGS_SCRIPT), "check-secrets", str(EXAMPLE)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_stack_sh_reads_the_env_file_as_compose_does_and_the_environment_wins(tmp_path):
    """The loader scripts/stack.sh runs, on a file with every form: the Fernet key keeps its
    trailing `=` (the old `IFS='=' read` dropped it), quotes go, `export` lines count."""
    env_file = tmp_path / "settings.env"
    env_file.write_text(EXAMPLE.read_text() + FORMS)
    environ = clean_environ(
        SENSOR_LSTM_ENV_FILE=str(env_file),
        SENSOR_LSTM_VAR=str(tmp_path / "var"),
        AIRFLOW_JWT_SECRET="from-the-environment",
    )
    code = f"import json, os; print(json.dumps({{key: os.environ.get(key) for key in {sorted(EXPECTED)!r}}}))"
    done = subprocess.run(
        ["bash", str(STACK_SCRIPT), "exec", "python", "-c", code],
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == EXPECTED


def test_exports_quote_values_for_the_shell():
    lines = stack_settings().exports(EXAMPLE, {"POSTGRES_USER": "set"})
    assert "export AIRFLOW_FERNET_KEY=c2Vuc29yLWxzdG0tbG9jYWwtZGV2ZWxvcG1lbnQtMDE=\n" in lines
    assert "POSTGRES_USER" not in lines  # already in the environment: left alone


def test_generate_gives_every_secret_a_fresh_value_and_keeps_the_rest():
    settings = stack_settings()
    text = EXAMPLE.read_text()
    generated = settings.generate(text)
    example, fresh = (
        settings.read(EXAMPLE),
        dict(line.split("=", 1) for line in generated.splitlines() if line[:1].isalpha()),
    )
    assert [key for key in settings.SECRETS if fresh[key] == example[key]] == []
    assert {key: value for key, value in fresh.items() if key not in settings.SECRETS} == {
        key: value for key, value in example.items() if key not in settings.SECRETS
    }
    assert [line for line in generated.splitlines() if line[:1] in ("#", "")] == [
        line for line in text.splitlines() if line[:1] in ("#", "")
    ]
    assert (
        fresh["AIRFLOW_FERNET_KEY"].endswith("=") and len(base64.urlsafe_b64decode(fresh["AIRFLOW_FERNET_KEY"])) == 32
    )
    assert all(len(fresh[key]) >= 12 for key in settings.SECRETS)  # MLflow's minimum for a password
    assert settings.generate(text) != generated


def test_every_password_key_and_secret_of_the_example_is_checked():
    names = [key for key in stack_settings().read(EXAMPLE) if key.endswith(("PASSWORD", "SECRET", "KEY"))]
    assert sorted(names) == sorted(stack_settings().SECRETS)


def test_check_secrets_refuses_the_example_values_in_one_line_naming_them():
    refused = run_check(clean_environ(**stack_settings().read(EXAMPLE)))
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "refusing to start: example secrets from .env.example in use: "
        + ", ".join(stack_settings().SECRETS)
        + "; put fresh ones in .env (python docker/settings.py generate .env.example > .env) or, on a "
        "laptop-only stack, set SENSOR_LSTM_ALLOW_EXAMPLE_SECRETS=true"
    ]


def test_check_secrets_names_only_the_secrets_left_as_they_were():
    settings = stack_settings()
    example = settings.read(EXAMPLE)
    fresh = {key: value for key, value in example.items() if key not in settings.SECRETS}
    fresh |= {key: settings.fresh_value(key) for key in settings.SECRETS}
    refused = run_check(clean_environ(**fresh | {"AIRFLOW_FERNET_KEY": EXAMPLE_FERNET_KEY}))
    assert refused.returncode == 1 and refused.stderr.startswith(
        "refusing to start: example secrets from .env.example in use: AIRFLOW_FERNET_KEY;"
    )
    assert run_check(clean_environ(**fresh)).returncode == 0


@pytest.mark.parametrize(("flag", "status"), [("true", 0), ("True", 0), ("false", 1), ("", 1)])
def test_the_dev_flag_lets_the_example_secrets_run(flag, status):
    done = run_check(clean_environ(**stack_settings().read(EXAMPLE), SENSOR_LSTM_ALLOW_EXAMPLE_SECRETS=flag))
    assert done.returncode == status
    if status == 0:
        assert done.stderr.startswith("warning: example secrets from .env.example in use: POSTGRES_PASSWORD, ")
