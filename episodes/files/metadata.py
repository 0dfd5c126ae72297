"""What the `file_metadata` job learns from a stored file: that its bytes are intact, and
the dimensions or duration a production team looks for."""

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from PIL import Image

from episodes.models import EpisodeFile, FileKind

CHUNK = 1024 * 1024
FFPROBE_TIMEOUT_SECONDS = 120


class ChecksumMismatch(Exception):
    """The stored bytes are not the ones uploaded."""


def extract(episode_file: EpisodeFile) -> dict[str, Any]:
    verify_checksum(episode_file)
    found: dict[str, Any] = {"checksum_verified": True}
    if episode_file.kind == FileKind.IMAGE:
        found.update(image_metadata(episode_file))
    elif episode_file.kind == FileKind.VIDEO:
        found.update(video_metadata(episode_file))
    return found


def verify_checksum(episode_file: EpisodeFile) -> None:
    digest = hashlib.sha256()
    with default_storage.open(episode_file.stored_name, "rb") as stored:
        while chunk := stored.read(CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != episode_file.sha256:
        raise ChecksumMismatch(
            f"Stored bytes of file {episode_file.pk} hash to {digest.hexdigest()}, "
            f"not to the {episode_file.sha256} received at upload."
        )


def image_metadata(episode_file: EpisodeFile) -> dict[str, Any]:
    with (
        default_storage.open(episode_file.stored_name, "rb") as stored,
        Image.open(stored) as image,
    ):
        return {"width": image.width, "height": image.height, "format": image.format}


def video_metadata(episode_file: EpisodeFile) -> dict[str, Any]:
    """Duration and resolution by ffprobe; without it installed, the video is left at that."""
    ffprobe = shutil.which(settings.FFPROBE)
    if ffprobe is None:
        return {"video_probe": "ffprobe is not installed"}
    with local_path(episode_file) as path:
        completed = subprocess.run(  # noqa: S603 - a fixed program, the path is ours
            [
                ffprobe,
                "-v",
                "error",
                "-print_format",
                "json",
                "-show_format",
                "-show_streams",
                path,
            ],
            capture_output=True,
            timeout=FFPROBE_TIMEOUT_SECONDS,
            check=False,
        )
    if completed.returncode != 0:
        message = completed.stderr.decode(errors="replace").strip()[-500:]
        return {"video_probe": f"ffprobe could not read the video: {message}"}
    return _from_probe(json.loads(completed.stdout))


def _from_probe(probe: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    duration = probe.get("format", {}).get("duration")
    if duration is not None:
        found["duration_seconds"] = round(float(duration), 3)
    video = next((s for s in probe.get("streams", []) if s.get("codec_type") == "video"), None)
    if video is not None:
        found.update(width=video.get("width"), height=video.get("height"))
        found["video_codec"] = video.get("codec_name")
    return found


@contextmanager
def local_path(episode_file: EpisodeFile) -> Iterator[str]:
    """A path ffprobe can open: the stored file itself, or a temporary copy of remote bytes."""
    try:
        path = default_storage.path(episode_file.stored_name)
    except NotImplementedError:
        path = None
    if path is not None:
        yield path
        return
    with (
        tempfile.NamedTemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as copy,
        default_storage.open(episode_file.stored_name, "rb") as stored,
    ):
        shutil.copyfileobj(stored, copy, CHUNK)
        copy.flush()
        yield copy.name
