"""Exporting episodes, with their activity history, as JSON and CSV files in the file storage.

One pass over the matching episodes, a chunk at a time, feeds every requested format into
temporary files on disk, so an export of any size holds one chunk in memory. Files reach the
storage only once every episode is written, so a cancelled export leaves nothing behind.
"""

import csv
import io
import json
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from itertools import batched
from typing import IO, Any

from django.core.files import File
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone
from django_filters.utils import translate_validation
from rest_framework.exceptions import ValidationError

from activity import selectors as activity_selectors
from episode_metadata.common import context
from episode_metadata.common.filters import query_names
from episodes import selectors
from episodes.filters import EpisodeFilter
from episodes.models import Episode
from episodes.serializers import EpisodeHistorySerializer, EpisodeSerializer

FORMATS = ("json", "csv")
CHUNK_SIZE = 200
EPISODE_COLUMNS = list(EpisodeSerializer.Meta.fields)
ACTIVITY_COLUMNS = ["activity_count", "last_changed_at"]
CATEGORY_SEPARATOR = "; "
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

Progress = Callable[[int, int], None]


def matching_episodes(
    filters: Mapping[str, Any], *, include_deleted: bool = False
) -> QuerySet[Episode]:
    """The episodes the list API shows for these query parameters, with its messages for bad
    values. Unlike the API, an unknown name is an error: a misspelt filter would otherwise
    quietly export every episode."""
    errors = _filter_shape_errors(filters)
    usable = {name: value for name, value in filters.items() if name not in errors}
    filterset = EpisodeFilter(
        data=_as_query(usable), queryset=selectors.episode_list(include_deleted=include_deleted)
    )
    if errors or not filterset.is_valid():
        # The stubs say a dict comes back; it is DRF's ValidationError, as its docstring says.
        translated = translate_validation(filterset.errors).detail  # type: ignore[attr-defined]
        raise ValidationError({**errors, **translated})
    return filterset.qs


def _filter_shape_errors(filters: Mapping[str, Any]) -> dict[str, list[str]]:
    known = ", ".join(sorted(query_names(EpisodeFilter)))
    errors = {}
    for name, value in filters.items():
        values = value if isinstance(value, list) else [value]
        if name not in query_names(EpisodeFilter):
            errors[name] = [f"Unknown filter. Filters are: {known}."]
        elif not all(isinstance(item, str | int | float) for item in values):
            errors[name] = ["Must be a string, a number or a list of them."]
    return errors


def _as_query(filters: Mapping[str, Any]) -> QueryDict:
    """The filters as the list API receives them: a query string, where a list repeats a name."""
    query = QueryDict(mutable=True)
    for name, value in filters.items():
        query.setlist(name, [str(item) for item in (value if isinstance(value, list) else [value])])
    return query


def export_episodes(
    *,
    filters: Mapping[str, Any],
    export_id: str,
    include_deleted: bool = False,
    formats: Sequence[str] = FORMATS,
    include_activity: bool = True,
    progress: Progress = lambda done, total: None,
    chunk_size: int = CHUNK_SIZE,
) -> dict[str, Any]:
    """Write the matching episodes to `exports/<export_id>/` in the storage, in each of
    `formats`; returns how many were written and, per file, its storage path, size and
    content type.

    `progress(done, total)` is called before the first chunk and after each one; it may
    raise to abandon the export.
    """
    episodes = matching_episodes(filters, include_deleted=include_deleted)
    # Only the ids are read up front: each chunk is then its own short query. A cursor held
    # open across chunks would pin SQLite's read snapshot, and the job's progress writes on
    # that connection would fail as soon as anyone else wrote.
    ids = list(episodes.values_list("pk", flat=True))
    exported_at = timezone.now()
    with ExitStack() as stack:
        outputs = _open_outputs(
            stack,
            formats,
            header={"exported_at": exported_at, "filters": dict(filters)},
            include_activity=include_activity,
        )
        count = 0
        progress(0, len(ids))
        for done, chunk in _chunks(ids, chunk_size):
            for record in _records(episodes.in_bulk(chunk), chunk, include_activity):
                for output in outputs:
                    output.add(record)
                count += 1
            progress(done, len(ids))
        name = f"exports/{export_id}/episodes-{exported_at:%Y%m%dT%H%M%SZ}"
        files = [_save(output, f"{name}.{output.format}", count) for output in outputs]
    return {"count": count, "files": files}


def _chunks(ids: list, size: int) -> Iterable[tuple[int, tuple]]:
    """Each chunk of ids with how many ids it and the chunks before it hold."""
    done = 0
    for chunk in batched(ids, size):
        done += len(chunk)
        yield done, chunk


def _records(
    found: dict[Any, Episode], chunk: Sequence, include_activity: bool
) -> Iterable[dict[str, Any]]:
    """The chunk's episodes in the export's order, as the API shows them. An episode that
    stopped matching since the ids were read is left out."""
    histories = _histories([pk for pk in chunk if pk in found]) if include_activity else {}
    for pk in chunk:
        if pk not in found:
            continue
        record = dict(EpisodeSerializer(found[pk]).data)
        if include_activity:
            record["activity"] = histories.get(pk, [])
        yield record


def _histories(episode_ids: list) -> dict[Any, list[dict[str, Any]]]:
    """Each episode's activity, oldest first, in one query for the whole chunk: the rows that
    whoever asked for the export may read (an export from a command reads them all)."""
    entries = (
        activity_selectors.activity_list(context.current().get_user())
        .filter(episode_id__in=episode_ids)
        .order_by("episode_id", "id")
    )
    histories: defaultdict[Any, list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        histories[entry.episode_id].append(EpisodeHistorySerializer(entry).data)
    return histories


def _open_outputs(
    stack: ExitStack, formats: Sequence[str], *, header: dict[str, Any], include_activity: bool
) -> list["_JsonOutput | _CsvOutput"]:
    outputs: list[_JsonOutput | _CsvOutput] = []
    if "json" in formats:
        outputs.append(_JsonOutput(stack, header))
    if "csv" in formats:
        columns = EPISODE_COLUMNS + (ACTIVITY_COLUMNS if include_activity else [])
        outputs.append(_CsvOutput(stack, columns))
    return outputs


def _scratch(stack: ExitStack) -> "io.TextIOWrapper[IO[bytes]]":
    """A temporary file on disk, removed when the export ends however it ends."""
    return stack.enter_context(
        io.TextIOWrapper(tempfile.TemporaryFile(), encoding="utf-8", newline="")
    )


def _save(output: "_JsonOutput | _CsvOutput", name: str, count: int) -> dict[str, Any]:
    text = output.finish(count)
    text.flush()
    path = default_storage.save(name, File(text.buffer, name=name))
    return {
        "format": output.format,
        "path": path,
        "size": default_storage.size(path),
        "content_type": output.content_type,
    }


class _JsonOutput:
    """`{"exported_at", "filters", "count", "episodes"}`. The count heads the file but is
    known only at the end, so the episodes gather in a scratch file of their own first."""

    format = "json"
    content_type = "application/json"

    def __init__(self, stack: ExitStack, header: dict[str, Any]) -> None:
        self._stack = stack
        self._header = header
        self._episodes = _scratch(stack)
        self._separator = ""

    def add(self, record: dict[str, Any]) -> None:
        self._episodes.write(self._separator)
        self._episodes.write(_json(record))
        self._separator = ",\n"

    def finish(self, count: int) -> "io.TextIOWrapper[IO[bytes]]":
        out = _scratch(self._stack)
        head = _json({**self._header, "count": count})
        out.write(f'{head.removesuffix("}")}, "episodes": [\n')
        self._episodes.seek(0)
        shutil.copyfileobj(self._episodes, out)
        out.write("\n]}\n")
        return out


class _CsvOutput:
    """One row per episode: its fields, categories joined, and a summary of its history."""

    format = "csv"
    content_type = "text/csv"

    def __init__(self, stack: ExitStack, columns: list[str]) -> None:
        self._file = _scratch(stack)
        self._writer = csv.DictWriter(self._file, fieldnames=columns, extrasaction="ignore")
        self._writer.writeheader()

    def add(self, record: dict[str, Any]) -> None:
        self._writer.writerow(_csv_row(record))

    def finish(self, count: int) -> "io.TextIOWrapper[IO[bytes]]":
        return self._file


def _json(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)


def _csv_row(record: dict[str, Any]) -> dict[str, Any]:
    row = {
        **record,
        "categories": CATEGORY_SEPARATOR.join(record["categories"]),
        "created_by": _username(record["created_by"]),
        "updated_by": _username(record["updated_by"]),
    }
    if "activity" in record:
        history = record["activity"]
        row["activity_count"] = len(history)
        row["last_changed_at"] = history[-1]["timestamp"] if history else None
    return {column: _cell(value) for column, value in row.items()}


def _username(user: dict[str, Any] | None) -> str:
    return user["username"] if user else ""


def _cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula is quoted, so it shows as typed."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return f"'{value}"
    return value
