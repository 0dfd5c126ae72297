"""Rendering compositions: the layouts' geometry, drawing with Pillow, and the
thumbnail_render job run as a worker runs it, with its files, progress and failures."""

import io
import itertools

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from activity.models import ActivityLog
from episodes.compositions import rendering, services
from episodes.compositions.layouts import FORMATS, LAYOUTS
from episodes.compositions.tasks import thumbnail_render
from episodes.models import Composition, CompositionLayout, Episode, EpisodeFile
from jobs import execution, runtime
from jobs import services as job_services
from jobs.models import Job, JobStatus
from tests.test_compositions_api import (
    BLUE,
    GREEN,
    RED,
    YELLOW,
    image_bytes,
    make_image,
)

pytestmark = pytest.mark.django_db
WORKER = "test-host:1:0"
TOLERANCE = 12  # JPEG's loss on flat colour


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def near(pixel, color) -> bool:
    return all(abs(a - b) <= TOLERANCE for a, b in zip(pixel, color, strict=True))


def centre(box) -> tuple[int, int]:
    left, top, right, bottom = box
    return (left + right) // 2, (top + bottom) // 2


def flat(color, size=(400, 300)) -> Image.Image:
    return Image.new("RGB", size, color)


def stored_image(file_id) -> Image.Image:
    file = EpisodeFile.objects.get(pk=file_id)
    with default_storage.open(file.file.name, "rb") as stream:
        image = Image.open(stream)
        image.load()
    return image


# --- Layouts and formats ----------------------------------------------------------------------


def test_the_formats_have_the_platforms_sizes():
    sizes = {name: (output.width, output.height) for name, output in FORMATS.items()}

    assert sizes == {
        "youtube": (1280, 720),
        "instagram_square": (1080, 1080),
        "instagram_story": (1080, 1920),
        "twitter": (1600, 900),
    }


def test_the_layouts_are_the_models_choices_with_their_asset_counts():
    counts = {name: (layout.min_assets, layout.max_assets) for name, layout in LAYOUTS.items()}

    assert set(LAYOUTS) == set(CompositionLayout.values)
    assert counts == {"single": (1, 1), "split": (2, 2), "grid": (2, 4), "feature": (2, 4)}


@pytest.mark.parametrize(("layout", "output"), list(itertools.product(LAYOUTS, FORMATS)))
def test_cells_tile_the_canvas_exactly(layout, output):
    spec, size = LAYOUTS[layout], FORMATS[output]
    for count in range(spec.min_assets, spec.max_assets + 1):
        cells = spec.cells(size.width, size.height, count)
        canvas = Image.new("L", (size.width, size.height), 0)
        for box in cells:
            left, top, right, bottom = box
            assert 0 <= left < right <= size.width and 0 <= top < bottom <= size.height
            canvas.paste(Image.new("L", (right - left, bottom - top), 1), box[:2])
        area = sum((r - left) * (b - t) for left, t, r, b in cells)
        assert len(cells) == count
        # Every pixel covered, and the areas add up to the canvas: no overlap, no gap.
        assert canvas.getextrema() == (1, 1)
        assert area == size.width * size.height


def test_layouts_refuse_the_wrong_number_of_assets():
    with pytest.raises(ValueError, match="takes 2 to 4 images, not 5"):
        LAYOUTS["grid"].cells(1280, 720, 5)


def test_feature_puts_the_first_asset_large_and_the_strip_beside_or_below():
    landscape = LAYOUTS["feature"].cells(1200, 600, 3)
    portrait = LAYOUTS["feature"].cells(600, 1200, 3)

    assert landscape == [(0, 0, 800, 600), (800, 0, 1200, 300), (800, 300, 1200, 600)]
    assert portrait == [(0, 0, 600, 800), (0, 800, 300, 1200), (300, 800, 600, 1200)]


def test_split_is_side_by_side_on_landscape_and_stacked_on_portrait():
    assert LAYOUTS["split"].cells(1280, 720, 2) == [(0, 0, 640, 720), (640, 0, 1280, 720)]
    assert LAYOUTS["split"].cells(1080, 1920, 2) == [(0, 0, 1080, 960), (0, 960, 1080, 1920)]


def test_grid_fills_two_rows_in_reading_order():
    assert LAYOUTS["grid"].cells(1000, 600, 3) == [
        (0, 0, 500, 300),
        (500, 0, 1000, 300),
        (0, 300, 1000, 600),
    ]


# --- Drawing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("output", FORMATS)
@pytest.mark.parametrize(
    ("layout", "colors"),
    [
        ("single", [RED]),
        ("split", [RED, GREEN]),
        ("grid", [RED, GREEN, BLUE]),
        ("grid", [RED, GREEN, BLUE, YELLOW]),
        ("feature", [RED, GREEN, BLUE, YELLOW]),
    ],
)
def test_each_asset_fills_its_cell(layout, colors, output):
    size = FORMATS[output]

    drawn = rendering.render(layout, [flat(color) for color in colors], size)

    assert drawn.size == (size.width, size.height)
    cells = LAYOUTS[layout].cells(size.width, size.height, len(colors))
    for box, color in zip(cells, colors, strict=True):
        assert drawn.getpixel(centre(box)) == color
        left, top, right, bottom = box
        assert drawn.getpixel((left, top)) == color
        assert drawn.getpixel((right - 1, bottom - 1)) == color


def test_cover_fit_crops_the_overflow_evenly():
    # Three vertical stripes: a square cell keeps the middle one and crops the sides.
    stripes = Image.new("RGB", (300, 100), RED)
    stripes.paste(GREEN, (100, 0, 200, 100))
    stripes.paste(BLUE, (200, 0, 300, 100))

    drawn = rendering.render("single", [stripes], FORMATS["instagram_square"])

    row = [drawn.getpixel((x, 540)) for x in range(1080)]
    assert not any(near(pixel, RED) or near(pixel, BLUE) for pixel in row)
    # Resampling blends a few pixels at the very edges with what was cropped off.
    assert sum(near(pixel, GREEN) for pixel in row) > 0.95 * len(row)


def test_cover_fit_scales_a_small_image_up_to_fill_its_cell():
    drawn = rendering.render("single", [flat(BLUE, (16, 9))], FORMATS["youtube"])

    assert drawn.getcolors() == [(1280 * 720, BLUE)]


def test_transparency_shows_the_black_background():
    clear = Image.new("RGBA", (64, 64), (255, 255, 255, 0))
    buffer = io.BytesIO()
    clear.save(buffer, "PNG")

    loaded = rendering.load_image(io.BytesIO(buffer.getvalue()))

    assert loaded.mode == "RGB" and loaded.getcolors() == [(64 * 64, (0, 0, 0))]


def test_an_exif_rotated_photo_is_drawn_upright():
    sideways = Image.new("RGB", (200, 100), RED)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    buffer = io.BytesIO()
    sideways.save(buffer, "JPEG", exif=exif)

    assert rendering.load_image(io.BytesIO(buffer.getvalue())).size == (100, 200)


@pytest.mark.parametrize("content", [b"not an image", image_bytes()[:200]])
def test_unreadable_bytes_are_an_unreadable_image(content):
    with pytest.raises(rendering.UnreadableImage):
        rendering.load_image(io.BytesIO(content))


def test_encoding_as_png_or_jpeg():
    image = flat(RED)

    assert Image.open(io.BytesIO(rendering.encode(image, rendering.PNG))).format == "PNG"
    assert Image.open(io.BytesIO(rendering.encode(image, rendering.JPEG))).format == "JPEG"


# --- The job ----------------------------------------------------------------------------------


@pytest.fixture
def episode() -> Episode:
    return Episode.objects.create(title="Pilot")


@pytest.fixture
def composition(user, episode) -> Composition:
    """Red on the left (top, on a portrait canvas), blue on the other half."""
    return services.create_composition(
        user=user,
        data={
            "episode": episode,
            "name": "Split",
            "layout": "split",
            "assets": [str(make_image(episode, RED).pk), str(make_image(episode, BLUE).pk)],
            "formats": ["youtube", "instagram_story", "twitter"],
        },
    )


def claimed_render(composition: Composition, user) -> Job:
    services.start_render(composition, user=user)
    job = job_services.claim(worker_id=WORKER, queues=["default"])
    assert job is not None and job.job_type == "thumbnail_render"
    return job


def run(job: Job) -> Job:
    execution.run_claimed(job)
    job.refresh_from_db()
    return job


@pytest.mark.django_db(transaction=True)
def test_a_worker_renders_every_format_at_its_size(api, user, composition, episode):
    job = run(claimed_render(composition, user))

    assert job.status == JobStatus.COMPLETED, job.errors
    assert job.progress == 100
    files = job.result["files"]
    assert [entry["format"] for entry in files] == ["youtube", "instagram_story", "twitter"]
    for entry in files:
        output = FORMATS[entry["format"]]
        image = stored_image(entry["file_id"])
        assert image.format == "JPEG"
        assert image.size == (output.width, output.height)
        assert (entry["width"], entry["height"]) == image.size
        first, second = LAYOUTS["split"].cells(output.width, output.height, 2)
        assert near(image.getpixel(centre(first)), RED)
        assert near(image.getpixel(centre(second)), BLUE)
        stored = EpisodeFile.objects.get(pk=entry["file_id"])
        assert stored.episode == episode and stored.uploaded_by == user
        assert stored.size == entry["size"] == default_storage.size(stored.file.name)
    composition.refresh_from_db()
    assert composition.rendered_version == 1
    assert composition.renders == {entry["format"]: entry["file_id"] for entry in files}
    # The job offers each file for download by its format.
    download = api.get(f"/api/v1/jobs/{job.pk}/files/twitter/")
    assert download.status_code == 200
    assert Image.open(io.BytesIO(b"".join(download.streaming_content))).size == (1600, 900)


@pytest.mark.django_db(transaction=True)
def test_the_render_is_recorded_for_the_jobs_creator(user, composition):
    job = run(claimed_render(composition, user))

    row = ActivityLog.objects.filter(resource_type="composition", action="update").get()
    assert row.actor == user
    assert row.source == "job" and row.request_id == f"job:{job.pk}"
    assert row.changes["rendered_version"] == [None, 1]
    uploads = ActivityLog.objects.filter(resource_type="file", request_id=f"job:{job.pk}")
    assert uploads.count() == 3


def test_progress_is_reported_per_format(user, composition):
    calls = []

    services.render_composition(
        composition_id=str(composition.pk),
        version=1,
        progress=lambda done, total: calls.append((done, total)),
    )

    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_a_running_job_saves_its_progress(user, composition):
    job = claimed_render(composition, user)

    with runtime.running(job) as state:
        thumbnail_render.call(**job.payload)
        state.flush()

    job.refresh_from_db()
    assert job.progress == 99  # the job's completion makes it 100
    assert job.progress_message == "3 of 3 formats rendered"


def test_a_cancelled_render_stores_nothing(user, composition):
    job = claimed_render(composition, user)
    files_before = EpisodeFile.objects.count()

    with runtime.running(job) as state:
        state.cancel_requested.set()
        with pytest.raises(runtime.JobCancelled):
            thumbnail_render.call(**job.payload)

    assert EpisodeFile.objects.count() == files_before
    composition.refresh_from_db()
    assert composition.renders == {} and composition.rendered_version is None


def failure(job: Job) -> str:
    assert job.status == JobStatus.RETRY_SCHEDULED
    return job.errors[-1]["message"]


@pytest.mark.django_db(transaction=True)
def test_an_asset_deleted_meanwhile_fails_the_job(user, composition):
    job = claimed_render(composition, user)
    gone = EpisodeFile.objects.get(pk=composition.assets[1])
    gone.deleted_at = timezone.now()
    gone.save()

    message = failure(run(job))

    assert message == f"File {gone.pk} ({gone.original_name}) is deleted."
    composition.refresh_from_db()
    assert composition.rendered_version is None


@pytest.mark.django_db(transaction=True)
def test_an_unreadable_asset_fails_the_job(user, composition):
    job = claimed_render(composition, user)
    broken = EpisodeFile.objects.get(pk=composition.assets[0])
    default_storage.delete(broken.file.name)
    default_storage.save(broken.file.name, io.BytesIO(b"\x89PNG\r\n\x1a\n damaged"))

    message = failure(run(job))

    assert message.startswith(f"File {broken.pk} ({broken.original_name}) cannot be read")


@pytest.mark.django_db(transaction=True)
def test_an_asset_missing_from_storage_fails_the_job(user, composition):
    job = claimed_render(composition, user)
    missing = EpisodeFile.objects.get(pk=composition.assets[0])
    default_storage.delete(missing.file.name)

    message = failure(run(job))

    assert (
        message == f"File {missing.pk} ({missing.original_name}) is missing from the file storage."
    )


def test_a_job_renders_the_version_it_was_asked_for(api, user, composition, episode):
    job = claimed_render(composition, user)
    green = make_image(episode, GREEN)
    services.update_composition(
        composition, user=user, data={"assets": [str(green.pk), composition.assets[1]]}
    )

    result = thumbnail_render.call(**job.payload)

    assert result["version"] == 1
    youtube = stored_image(result["files"][0]["file_id"])
    assert near(youtube.getpixel((320, 360)), RED)  # version 1 had red on the left
    composition.refresh_from_db()
    assert composition.version == 2 and composition.rendered_version == 1


def test_an_older_render_does_not_replace_a_newer_one(user, composition, episode):
    old_job = claimed_render(composition, user)
    composition = services.update_composition(
        composition, user=user, data={"formats": ["instagram_square"]}
    )
    newer = services.render_composition(composition_id=str(composition.pk), version=2)

    thumbnail_render.call(**old_job.payload)

    composition.refresh_from_db()
    assert composition.rendered_version == 2
    assert composition.renders == {"instagram_square": newer["files"][0]["file_id"]}


def test_a_render_of_a_deleted_composition_fails_clearly(user, composition):
    job = claimed_render(composition, user)
    composition_id = composition.pk
    services.delete_composition(composition)

    with pytest.raises(services.RenderFailed, match=f"Composition {composition_id} no longer"):
        thumbnail_render.call(**job.payload)


def test_a_composition_deleted_while_drawing_gets_no_files(user, composition, media_root):
    stored_before = sorted(media_root.rglob("*"))

    def delete_once_drawn(done: int, total: int) -> None:
        if done == total:
            Composition.objects.filter(pk=composition.pk).delete()

    with pytest.raises(services.RenderFailed, match="was deleted during the render"):
        services.render_composition(
            composition_id=str(composition.pk), version=1, progress=delete_once_drawn
        )

    assert sorted(media_root.rglob("*")) == stored_before
    assert not EpisodeFile.objects.filter(original_name__startswith="split-").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"version": 2}, "version"),
        ({"composition_id": "00000000-0000-0000-0000-000000000000"}, "composition_id"),
    ],
)
def test_the_payload_is_checked_when_enqueued_through_the_jobs_api(
    api, composition, payload, field
):
    payload = {"composition_id": str(composition.pk), "version": 1, **payload}

    response = api.post(
        "/api/v1/jobs/", {"job_type": "thumbnail_render", "payload": payload}, format="json"
    )

    assert response.status_code == 400, response.content
    assert field in response.json()["payload"]
