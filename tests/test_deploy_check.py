"""`manage.py check --deploy` against the production settings deploy/production.env.example
documents, in a fresh interpreter with only those settings."""

import secrets
import subprocess
import sys

from dotenv import dotenv_values

from tests.service_process import ROOT, service_env

EXAMPLE = ROOT / "deploy" / "production.env.example"


def deploy_check(tmp_path, **overrides: str) -> subprocess.CompletedProcess:
    values = dotenv_values(EXAMPLE)
    assert values["SECRET_KEY"] == "change-me"  # a placeholder, never a key in the repository
    values |= {"SECRET_KEY": secrets.token_urlsafe(50), "VAR_DIR": str(tmp_path / "var")}
    env = service_env(**values | overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_documented_production_settings_pass_the_deploy_check(tmp_path):
    result = deploy_check(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_fails_on_a_missing_security_setting(tmp_path):
    result = deploy_check(tmp_path, SECURE_SSL_REDIRECT="0")

    assert result.returncode != 0
    assert "security.W008" in result.stderr
