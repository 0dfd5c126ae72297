"""The service as a package: its wheel installed into a fresh virtual environment runs as the
`episode-metadata` command from any directory; and the drift checks `make lint` runs (CI's
first step) fail on a copy of the project with a missing migration, a stale lock or a stale
docs/openapi.yaml."""

import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.service_process import ROOT, free_port, service_env, wait_until_listening

VENV_BIN = ROOT / ".venv" / "bin"
# Only what an operator's shell would have: no settings, nothing of the checkout.
BARE_ENV = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "LOG_FORMAT": "text"}


def copy_of_project(destination: Path) -> Path:
    """The checkout's files as they are now, with their times (the environment's install
    stamp stays current), sharing its virtual environment: a git repository, as hooks need."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    for command in (["git", "init", "-q"], ["git", "add", "-A"]):
        subprocess.run(command, cwd=destination, check=True)
    (destination / ".venv").symlink_to(ROOT / ".venv")
    return destination


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    project = copy_of_project(tmp_path_factory.mktemp("project"))
    dist = tmp_path_factory.mktemp("dist")
    # setuptools from the dev environment: no build environment to fetch.
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*build, "--wheel-dir", str(dist), str(project)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return next(dist.glob("*.whl"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The `episode-metadata` command of a fresh virtual environment, the wheel's declared
    dependencies installed at the versions of the lock."""
    venv = tmp_path_factory.mktemp("venv")
    uv = str(VENV_BIN / "uv")
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    install = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    subprocess.run(
        [*install, str(wheel), "--constraint", str(ROOT / "requirements.txt")],
        check=True,
        timeout=300,
    )
    return venv / "bin" / "episode-metadata"


def run(command: Path, *args: str, cwd: Path) -> str:
    result = subprocess.run(
        [str(command), *args], cwd=cwd, env=BARE_ENV, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_wheel_holds_the_migrations_templates_and_static_files(wheel):
    names = zipfile.ZipFile(wheel).namelist()

    for app in ("activity", "episodes", "jobs", "realtime"):
        assert f"{app}/migrations/0001_initial.py" in names
    assert "realtime/templates/realtime/dashboard.html" in names
    assert "realtime/static/realtime/dashboard/main.js" in names
    assert "episode_metadata/nginx/episode-metadata.conf.template" in names
    assert "episode_metadata/templates/rest_framework/login.html" in names
    assert "episode_metadata/static/episode_metadata/favicon.svg" in names


@pytest.mark.server
def test_the_installed_command_migrates_and_serves_from_any_directory(installed, tmp_path):
    site_packages = next(installed.parent.parent.glob("lib/python*/site-packages"))

    assert "run_jobs" in run(installed, "help", cwd=tmp_path)
    run(installed, "migrate", "--noinput", cwd=tmp_path)
    run(installed, "collectstatic", "--noinput", cwd=tmp_path)
    port = free_port()
    server = subprocess.Popen(
        [str(installed), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=BARE_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_listening(port, server, timeout=60)
        for path in ("/health", "/static/realtime/dashboard/main.js"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
                assert answer.status == 200, path
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)

    assert (tmp_path / "var" / "db.sqlite3").is_file()
    assert not list(site_packages.glob("var")) and not list(site_packages.glob("*/var"))


def test_the_installed_command_renders_the_nginx_configuration(installed, tmp_path):
    servers = ["--server", "10.0.0.11:8000", "--server", "10.0.0.12:8000"]
    tls = ["--certificate", "/etc/tls/chain.pem", "--certificate-key", "/etc/tls/key.pem"]

    config = run(
        installed, "nginx_config", *servers, "--server-name", "e.example", *tls, cwd=tmp_path
    )

    assert "server 10.0.0.12:8000" in config
    assert str(tmp_path / "var" / "static") in config


def lint_hook(project: Path, hook: str) -> subprocess.CompletedProcess:
    """One hook of .pre-commit-config.yaml over the whole copy, as `make lint` runs it."""
    return subprocess.run(
        [str(VENV_BIN / "pre-commit"), "run", hook, "--all-files"],
        cwd=project,
        env=service_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_lint_fails_on_a_model_change_without_its_migration(tmp_path):
    project = copy_of_project(tmp_path)
    models = project / "activity" / "models.py"
    models.write_text(
        models.read_text() + "\n\nclass Unmigrated(models.Model):\n    name = models.TextField()\n"
    )

    result = lint_hook(project, "migrations")

    assert result.returncode != 0
    assert "Unmigrated" in result.stdout


def test_lint_fails_on_a_lock_out_of_step_with_pyproject(tmp_path):
    project = copy_of_project(tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "dependencies = [\n", 'dependencies = [\n    "sqlparse",\n', 1
        )
    )

    result = lint_hook(project, "lock")

    assert result.returncode != 0
    assert "requirements.txt is out of step with pyproject.toml: run make lock" in result.stdout


def test_lint_fails_on_an_api_change_missing_from_docs_openapi_yaml(tmp_path):
    project = copy_of_project(tmp_path)
    settings = project / "episode_metadata" / "settings.py"
    settings.write_text(
        re.sub(r'"DESCRIPTION": "', '"DESCRIPTION": "Changed. ', settings.read_text(), count=1)
    )

    result = lint_hook(project, "openapi")

    assert result.returncode != 0
    assert "docs/openapi.yaml is not what the service generates: run make openapi" in result.stdout
