"""A Python client generated from the served schema by openapi-python-client, as a client
team would make one, runs the README's walkthrough against a real server process (with its
job worker): the schema is good enough to build on, not merely valid."""

import importlib
import io
import json
import pkgutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.service_database import ServiceDatabase
from tests.service_process import Server, manage, manage_command

pytestmark = pytest.mark.server

PACKAGE = "episode_client"
USERNAME = "walkthrough"
PASSWORD = "a-long-walkthrough-password"
SCRIPT = b"INT. STUDIO - DAY\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    var = tmp_path_factory.mktemp("client")
    database = ServiceDatabase(var / "var")
    admin = {"DJANGO_SUPERUSER_USERNAME": USERNAME, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    manage({**database.env, **admin}, "ensure_admin")
    server = Server(database.env, command=manage_command("serve", "--concurrency", "1")).start()
    yield server, var
    server.stop()
    database.drop()


@pytest.fixture(scope="module")
def generated(served, monkeypatch_module) -> Iterator[ModuleType]:
    """The client package, generated from the schema the server hands out without a login."""
    server, var = served
    with urllib.request.urlopen(f"{server.http}/api/schema/?format=json", timeout=30) as answer:
        (var / "schema.json").write_bytes(answer.read())
    (var / "config.yaml").write_text("post_hooks: []\n")  # formatting it adds nothing here
    completed = subprocess.run(
        [
            *(sys.executable, "-m", "openapi_python_client", "generate"),
            *("--path", str(var / "schema.json"), "--config", str(var / "config.yaml")),
            *("--meta", "none", "--output-path", str(var / PACKAGE)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    monkeypatch_module.syspath_prepend(str(var))
    yield importlib.import_module(PACKAGE)
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_every_generated_module_imports(generated):
    broken = {}
    for found in pkgutil.walk_packages(generated.__path__, f"{PACKAGE}."):
        try:
            importlib.import_module(found.name)
        except Exception as error:
            broken[found.name] = repr(error)

    assert broken == {}


def test_the_readme_walkthrough_through_the_generated_client(served, generated):
    server, _ = served
    models = importlib.import_module(f"{PACKAGE}.models")
    client = signed_in(server, generated, models)

    episode = create_episode(client, models)
    assert listed_titles(client, models) == ["Pilot"]
    approve(client, models, episode.id)
    assert upload_and_download(client, models, episode.id) == SCRIPT
    assert b"Pilot" in export_csv(client, models)

    deleted = operation("episodes", "episodes_destroy").sync_detailed(episode.id, client=client)
    assert deleted.status_code == 204
    assert operation("auth", "auth_logout_create").sync_detailed(client=client).status_code == 204


def operation(tag: str, name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")


def signed_in(server: Server, generated: ModuleType, models):
    anonymous = generated.Client(base_url=server.http, raise_on_unexpected_status=True)
    login = operation("auth", "auth_login_create").sync(
        client=anonymous, body=models.LoginRequest(username=USERNAME, password=PASSWORD)
    )
    assert isinstance(login, models.LoginResponse), login
    # Downloads are `*/*`, which the generator leaves unparsed: their status and bytes are
    # read off the response, as a client team would.
    return generated.AuthenticatedClient(base_url=server.http, token=login.token)


def create_episode(client, models):
    body = models.EpisodeRequest(
        title="Pilot", season_number=1, episode_number=1, categories=["drama"]
    )
    episode = operation("episodes", "episodes_create").sync(client=client, body=body)
    assert isinstance(episode, models.Episode), episode
    return episode


def listed_titles(client, models) -> list[str]:
    """Draft episodes of season 1, ordered by two fields sent as generators send a list."""
    ordering = [models.EpisodesListOrderingItem(value) for value in ("status", "-title")]
    page = operation("episodes", "episodes_list").sync(
        client=client,
        status=[models.EpisodesListStatusItem.DRAFT],
        season_number=1,
        ordering=ordering,
    )
    assert isinstance(page, models.PaginatedEpisodeList), page
    return [listed.title for listed in page.results]


def approve(client, models, episode_id) -> None:
    update = operation("episodes", "episodes_partial_update")
    for status in (models.EpisodeStatusEnum.PENDING, models.EpisodeStatusEnum.APPROVED):
        changed = update.sync(
            episode_id, client=client, body=models.PatchedEpisodeRequest(status=status)
        )
        assert changed.status == status, changed


def upload_and_download(client, models, episode_id) -> bytes:
    types = importlib.import_module(f"{PACKAGE}.types")
    part = types.File(
        payload=io.BytesIO(SCRIPT), file_name="pilot.fountain", mime_type="text/plain"
    )
    uploaded = operation("episodes", "episodes_files_create").sync(
        episode_id, client=client, body=models.UploadRequest(file=part)
    )
    assert isinstance(uploaded, models.Uploaded), uploaded
    download = operation("episodes", "episodes_files_download_retrieve").sync_detailed(
        episode_id, uploaded.id, client=client
    )
    assert download.status_code == 200
    return download.content


def export_csv(client, models) -> bytes:
    """Start an export of the approved episodes, wait for the worker, download its file."""
    payload = models.EpisodesExportPayload(
        filters=models.EpisodesExportPayloadFilters(
            status=[models.EpisodesExportPayloadFiltersStatusItem.APPROVED]
        ),
        formats=[models.EpisodesExportPayloadFormatsItem.CSV],
    )
    body = models.EpisodesExportJobCreateRequest(
        job_type=models.EpisodesExportJobCreateRequestJobType.EPISODES_EXPORT, payload=payload
    )
    job = operation("jobs", "jobs_create").sync(client=client, body=body)
    assert isinstance(job, models.EpisodesExportJob), job
    done = wait_for_job(client, models, job.id)
    assert done.result.count == 1
    download = operation("jobs", "jobs_files_retrieve").sync_detailed(done.id, "csv", client=client)
    assert download.status_code == 200
    return download.content


def wait_for_job(client, models, job_id, timeout: float = 30):
    retrieve = operation("jobs", "jobs_retrieve")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = retrieve.sync(job_id, client=client)
        if job.status == models.JobStatusEnum.COMPLETED:
            return job
        assert job.status != models.JobStatusEnum.FAILED, json.dumps(job.to_dict())
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} did not complete")
