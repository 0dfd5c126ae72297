"""Writes to compositions: the rules every caller (API, jobs, shell) must follow in one place.

Content (name, layout, assets, formats) is versioned: every save that changes it is a new
version with a snapshot, and sends an approved or published composition back to draft,
since what was approved is no longer what would be shown.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.text import slugify
from PIL import Image
from rest_framework.exceptions import NotFound, ValidationError

from episode_metadata.common.preconditions import IfMatch, check_before_write
from episodes.compositions import rendering, selectors
from episodes.compositions.layouts import FORMATS, LAYOUTS
from episodes.files.services import store_generated_file
from episodes.models import (
    Composition,
    CompositionStatus,
    CompositionVersion,
    Episode,
    EpisodeFile,
    FileKind,
)
from jobs import registry
from jobs import services as job_services
from jobs.models import Job

if TYPE_CHECKING:
    from django.contrib.auth.models import User

CONTENT_FIELDS = ("name", "layout", "assets", "formats")
RENDER_JOB_TYPE = "thumbnail_render"
RENDER_CONTENT_TYPE = rendering.JPEG

Progress = Callable[[int, int], None]


class RenderFailed(Exception):
    """A render cannot be made from what the composition names; the message says why."""


def _content(composition: Composition) -> dict[str, Any]:
    return {name: getattr(composition, name) for name in CONTENT_FIELDS}


def _asset_problem(asset_id: str, file: EpisodeFile | None) -> str | None:
    if file is None:
        return f"No file of this episode has the id {asset_id}."
    if file.is_deleted:
        return f"File {asset_id} ({file.original_name}) is deleted."
    if file.kind != FileKind.IMAGE:
        return f"File {asset_id} ({file.original_name}) is a {file.kind} file, not an image."
    return None


def _asset_problems(assets: list[str], files: dict[str, EpisodeFile]) -> list[str]:
    problems = (_asset_problem(asset_id, files.get(asset_id)) for asset_id in assets)
    return [problem for problem in problems if problem is not None]


def _check_assets(episode: Episode, layout: str, assets: list[str]) -> None:
    """As many assets as the layout takes, each a live image of the composition's episode."""
    expected = LAYOUTS[layout]
    if not expected.accepts(len(assets)):
        message = f"The {layout} layout takes {expected.expected()}; got {len(assets)}."
        raise ValidationError({"assets": [message]})
    files = selectors.episode_files(episode=episode, ids=assets)
    problems = _asset_problems(assets, files)
    if problems:
        raise ValidationError({"assets": problems})


def _check_live(episode: Episode) -> None:
    if episode.is_deleted:
        raise ValidationError({"episode": ["The episode is deleted."]})


def _snapshot(composition: Composition, user: "User | None") -> None:
    CompositionVersion.objects.create(
        composition=composition,
        version=composition.version,
        snapshot=_content(composition),
        created_by=user if user is not None and user.is_authenticated else None,
    )


def _locked(composition: Composition, if_match: IfMatch | None = None) -> Composition:
    """The row as it is now, held until the transaction ends, so that concurrent saves
    number their versions one after the other, and a write based on another revision than
    the held one is refused (412) before it is made."""
    current = (
        Composition.objects.select_for_update(of=("self",))
        .select_related("episode")
        .filter(pk=composition.pk)
        .first()
    )
    if current is None:
        raise NotFound("The composition no longer exists.")
    check_before_write(if_match, current.revision, field="revision")
    return current


@transaction.atomic
def create_composition(*, user: "User", data: dict[str, Any]) -> Composition:
    episode = data["episode"]
    _check_live(episode)
    _check_assets(episode, data["layout"], data["assets"])
    composition = Composition.objects.create(
        **{name: data[name] for name in CONTENT_FIELDS}, episode=episode, created_by=user
    )
    _snapshot(composition, user)
    return composition


@transaction.atomic
def update_composition(
    composition: Composition,
    *,
    user: "User",
    data: dict[str, Any],
    if_match: IfMatch | None = None,
) -> Composition:
    composition = _locked(composition, if_match)
    if "episode" in data and data["episode"].pk != composition.episode_id:
        raise ValidationError({"episode": ["A composition cannot move to another episode."]})
    content = {name: data[name] for name in CONTENT_FIELDS if name in data}
    return _change_content(composition, user=user, content=content)


def _change_content(
    composition: Composition, *, user: "User | None", content: dict[str, Any]
) -> Composition:
    """Apply new content as the next version; content equal to the current one is no change."""
    changed = {name for name, value in content.items() if getattr(composition, name) != value}
    if not changed:
        return composition
    for name in changed:
        setattr(composition, name, content[name])
    if changed & {"layout", "assets"}:
        _check_live(composition.episode)
        _check_assets(composition.episode, composition.layout, composition.assets)
    composition.version += 1
    composition.status = CompositionStatus.DRAFT
    composition.save()
    _snapshot(composition, user)
    return composition


@transaction.atomic
def revert_composition(
    composition: Composition, *, user: "User", version: int, if_match: IfMatch | None = None
) -> Composition:
    """Make the content of an earlier version the newest one; the history stays whole."""
    composition = _locked(composition, if_match)
    snapshot = selectors.version_snapshot(composition=composition, version=version)
    if snapshot is None:
        message = f"No version {version}: this composition has versions 1 to {composition.version}."
        raise ValidationError({"version": [message]})
    return _change_content(composition, user=user, content=snapshot)


@transaction.atomic
def delete_composition(composition: Composition, *, if_match: IfMatch | None = None) -> None:
    """Its versions go with it; the files it rendered stay with the episode. A conditional
    delete holds the row while it checks the revision."""
    if if_match is not None:
        composition = _locked(composition, if_match)
    composition.delete()


@transaction.atomic
def approve_composition(
    composition: Composition, *, if_match: IfMatch | None = None
) -> Composition:
    composition = _locked(composition, if_match)
    if composition.status != CompositionStatus.DRAFT:
        message = f"Only a draft can be approved; this composition is {composition.status}."
        raise ValidationError({"status": [message]})
    return _set_status(composition, CompositionStatus.APPROVED)


@transaction.atomic
def publish_composition(
    composition: Composition, *, if_match: IfMatch | None = None
) -> Composition:
    """Publishing shows the rendered files, so they must be of the approved content."""
    composition = _locked(composition, if_match)
    if composition.status == CompositionStatus.DRAFT:
        raise ValidationError({"status": ["Approve the composition before publishing it."]})
    if composition.status == CompositionStatus.PUBLISHED:
        raise ValidationError({"status": ["The composition is published already."]})
    if not _render_is_current(composition):
        message = (
            f"Render version {composition.version} first: the composition has no completed "
            "render of its current content."
        )
        raise ValidationError({"status": [message]})
    return _set_status(composition, CompositionStatus.PUBLISHED)


def _render_is_current(composition: Composition) -> bool:
    if composition.rendered_version != composition.version:
        return False
    return selectors.live_render_count(composition=composition) == len(composition.formats)


def _set_status(composition: Composition, status: str) -> Composition:
    composition.status = status
    composition.save(update_fields=["status", "updated_at"])
    return composition


@transaction.atomic
def make_primary(composition: Composition, *, if_match: IfMatch | None = None) -> Composition:
    """The episode's one primary composition. Others are cleared before this one is set,
    each a save of its own, so the one-primary index holds at every statement and the
    activity log shows who lost the place."""
    # Holding the episode row makes concurrent calls for one episode take turns.
    Episode.objects.select_for_update().filter(pk=composition.episode_id).exists()
    composition = _locked(composition, if_match)
    others = Composition.objects.filter(episode_id=composition.episode_id, is_primary=True)
    for other in others.exclude(pk=composition.pk):
        other.is_primary = False
        other.save(update_fields=["is_primary", "updated_at"])
    if not composition.is_primary:
        composition.is_primary = True
        composition.save(update_fields=["is_primary", "updated_at"])
    return composition


@transaction.atomic
def start_render(composition: Composition, *, user: "User") -> Job:
    """Queue a render of the current version; assets that cannot be drawn are refused now
    rather than failing the job later."""
    _check_live(composition.episode)
    _check_assets(composition.episode, composition.layout, composition.assets)
    declared = registry.get(RENDER_JOB_TYPE)
    if declared is None:  # episodes.compositions.tasks registers it when the app loads
        raise LookupError(f"The job type {RENDER_JOB_TYPE!r} is not registered.")
    payload = declared.payload(
        data={"composition_id": str(composition.pk), "version": composition.version}
    )
    payload.is_valid(raise_exception=True)
    return job_services.enqueue(
        declared, payload.validated_data, user=user, episode_id=composition.episode_id
    )


def render_composition(
    *,
    composition_id: str,
    version: int,
    user: "User | None" = None,
    progress: Progress = lambda done, total: None,
) -> dict[str, Any]:
    """Render `version` of the composition in each of its formats, store the images as
    files of its episode and record them as its renders.

    `progress(done, total)` is called before each format and after the last; it may raise
    to abandon the render. Files are stored only once every format is drawn, so an
    abandoned render leaves nothing behind.
    """
    composition = Composition.objects.select_related("episode").filter(pk=composition_id).first()
    if composition is None:
        raise RenderFailed(f"Composition {composition_id} no longer exists.")
    content = selectors.version_snapshot(composition=composition, version=version)
    if content is None:
        raise RenderFailed(f"Composition {composition_id} has no version {version}.")
    images = _load_assets(composition.episode, content["assets"])
    drawn = _draw(content, images, progress)
    files = _store(composition, version=version, name=content["name"], drawn=drawn, user=user)
    return {
        "composition_id": str(composition.pk),
        "version": version,
        "files": [_describe(name, file) for name, file in files.items()],
    }


def _load_assets(episode: Episode, assets: list[str]) -> list[Image.Image]:
    files = selectors.episode_files(episode=episode, ids=assets)
    problems = _asset_problems(assets, files)
    if problems:
        raise RenderFailed(" ".join(problems))
    return [_read(files[asset_id]) for asset_id in assets]


def _read(file: EpisodeFile) -> Image.Image:
    label = f"File {file.pk} ({file.original_name})"
    try:
        with file.file.storage.open(file.stored_name, "rb") as stream:
            return rendering.load_image(stream)
    except FileNotFoundError:
        raise RenderFailed(f"{label} is missing from the file storage.") from None
    except rendering.UnreadableImage as exc:
        raise RenderFailed(f"{label} cannot be read as an image: {exc}") from None


def _draw(
    content: dict[str, Any], images: list[Image.Image], progress: Progress
) -> dict[str, bytes]:
    """Each format's encoded image, by format name, in the composition's order."""
    formats = content["formats"]
    drawn = {}
    for done, name in enumerate(formats):
        progress(done, len(formats))
        canvas = rendering.render(content["layout"], images, FORMATS[name])
        drawn[name] = rendering.encode(canvas, RENDER_CONTENT_TYPE)
    progress(len(formats), len(formats))
    return drawn


@transaction.atomic
def _store(
    composition: Composition,
    *,
    version: int,
    name: str,
    drawn: dict[str, bytes],
    user: "User | None",
) -> dict[str, EpisodeFile]:
    """Store the drawings and record them, holding the composition throughout: a composition
    deleted before this point gets no files stored for it."""
    try:
        composition = _locked(composition)
    except NotFound:
        raise RenderFailed(f"Composition {composition.pk} was deleted during the render.") from None
    stem = slugify(name, allow_unicode=True) or "composition"
    extension = rendering.EXTENSIONS[RENDER_CONTENT_TYPE]
    files = {
        format_name: store_generated_file(
            episode=composition.episode,
            name=f"{stem}-v{version}-{format_name}.{extension}",
            content=content,
            content_type=RENDER_CONTENT_TYPE,
            user=user,
        )
        for format_name, content in drawn.items()
    }
    _record_renders(composition, version=version, files=files)
    return files


def _record_renders(
    composition: Composition, *, version: int, files: dict[str, EpisodeFile]
) -> None:
    """Note the files as the composition's renders, unless a newer version was rendered
    meanwhile: the renders always show the newest content drawn."""
    if composition.rendered_version is not None and composition.rendered_version > version:
        return
    composition.renders = {name: str(file.pk) for name, file in files.items()}
    composition.rendered_version = version
    composition.save(update_fields=["renders", "rendered_version", "updated_at"])


def _describe(format_name: str, file: EpisodeFile) -> dict[str, Any]:
    """A result entry the jobs API can offer for download by its format."""
    output = FORMATS[format_name]
    return {
        "format": format_name,
        "file_id": str(file.pk),
        "path": file.file.name,
        "size": file.size,
        "content_type": file.content_type,
        "width": output.width,
        "height": output.height,
    }
