"""The stacks' settings file (.env, made from .env.example): read it the way Docker Compose does,
refuse the example secrets, and write a new one with fresh secrets.

    python docker/settings.py exports FILE          `export KEY='value'` lines for the shell, one per
                                                    setting of FILE that the environment lacks (a
                                                    variable already set wins)
    python docker/settings.py check-secrets EXAMPLE exit 1, naming them, when a secret in the
                                                    environment still has its value in EXAMPLE
                                                    (.env.example), unless
                                                    SENSOR_LSTM_ALLOW_EXAMPLE_SECRETS=true
    python docker/settings.py generate EXAMPLE      EXAMPLE's text with a fresh value for every
                                                    secret: a new .env

scripts/stack.sh uses all three; docker-compose.yaml's check-secrets service runs check-secrets
before anything else starts. `exports` and `check-secrets` parse with python-dotenv, which reads
what Compose reads for the forms .env files use: `KEY=value` keeping every `=` after the first
(every Fernet key ends with one), single and double quotes removed, an `export ` prefix, comments,
${VAR} interpolation outside single quotes. `generate` needs the standard library alone, so it runs on any host.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shlex
import sys
from pathlib import Path

# The settings that are secrets: passwords, keys and signing secrets (see .env.example).
SECRETS = (
    "POSTGRES_PASSWORD",
    "AIRFLOW_DB_PASSWORD",
    "MLFLOW_DB_PASSWORD",
    "AIRFLOW_ADMIN_PASSWORD",
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_API_SECRET_KEY",
    "AIRFLOW_JWT_SECRET",
    "MLFLOW_ADMIN_PASSWORD",
    "MLFLOW_FLASK_SECRET_KEY",
)
ALLOW_FLAG = "SENSOR_LSTM_ALLOW_EXAMPLE_SECRETS"


SINGLE_QUOTED = re.compile(r"\s*(?:export\s+)?[^=]*=\s*'")


def read(path: str | Path) -> dict[str, str]:
    """The file's settings as Compose reads them (a key without a value is left out): python-dotenv's
    parser, and its ${VAR} interpolation except in single-quoted values, which Compose keeps as
    they are (python-dotenv's own dotenv_values expands those too)."""
    from dotenv.parser import parse_stream
    from dotenv.variables import parse_variables

    values: dict[str, str] = {}
    with open(path, encoding="utf-8") as stream:
        for binding in parse_stream(stream):
            if binding.key is None or binding.value is None:
                continue
            if SINGLE_QUOTED.match(binding.original.string):
                values[binding.key] = binding.value
            else:
                known = {**os.environ, **values}
                values[binding.key] = "".join(atom.resolve(known) for atom in parse_variables(binding.value))
    return values


def exports(path: str | Path, environ: dict[str, str]) -> str:
    """Shell lines exporting the file's settings that ``environ`` does not already have."""
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in read(path).items() if key not in environ)


def example_secrets_in_use(example: dict[str, str], environ: dict[str, str]) -> list[str]:
    """The secrets whose value in ``environ`` is the one in the example file."""
    return [key for key in SECRETS if key in example and environ.get(key) == example[key]]


def check_secrets(example_path: str | Path, environ: dict[str, str]) -> tuple[int, str]:
    """Exit status and the one line to print."""
    in_use = example_secrets_in_use(read(example_path), environ)
    if not in_use:
        return 0, ""
    names = ", ".join(in_use)
    if environ.get(ALLOW_FLAG, "").strip().lower() == "true":
        return 0, f"warning: example secrets from .env.example in use: {names} ({ALLOW_FLAG}=true: a laptop-only stack)"
    return 1, (
        f"refusing to start: example secrets from .env.example in use: {names}; put fresh ones in .env "
        f"(python docker/settings.py generate .env.example > .env) or, on a laptop-only stack, set {ALLOW_FLAG}=true"
    )


def fresh_value(key: str) -> str:
    if key == "AIRFLOW_FERNET_KEY":
        # What cryptography's Fernet.generate_key() returns: 32 random bytes, URL-safe base64.
        return base64.urlsafe_b64encode(os.urandom(32)).decode()
    # URL-safe (passwords go into database URLs) and longer than MLflow's 12-character minimum.
    return secrets.token_urlsafe(32)


def generate(example_text: str) -> str:
    """The example's text, every secret's line given a fresh value; comments and the rest kept."""
    pattern = re.compile(rf"^(\s*(?:export\s+)?)({'|'.join(SECRETS)})=.*$", re.MULTILINE)
    return pattern.sub(lambda match: f"{match[1]}{match[2]}={fresh_value(match[2])}", example_text)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("exports", "check-secrets", "generate"):
        print(__doc__, file=sys.stderr)
        return 2
    command, path = argv
    if command == "exports":
        sys.stdout.write(exports(path, dict(os.environ)))
        return 0
    if command == "generate":
        sys.stdout.write(generate(Path(path).read_text()))
        return 0
    status, line = check_secrets(path, dict(os.environ))
    if line:
        print(line, file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
