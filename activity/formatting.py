"""Activity rows as people read them: who did what to which resource, each changed field by
its label and its values in words ("alice → bob", not `[2, 1]`).

The app that owns a model says how its fields read, next to its tracking:

    formatting.register("episode", Episode)

Labels come from the fields' `verbose_name`, and most kinds from the fields themselves (a
foreign key to a user, choices, dates, booleans; a list reads as a list whatever its kind);
`kinds` and `labels` only correct them.
The admin, the REST API and the live events all read rows through `describe_rows`, so a row
reads the same wherever it is shown. One kind of value is left for the reader to word: a
moment (`kind` "datetime") stays an ISO 8601 instant, shown in the time zone of whoever reads
it (the page's browser's; the admin's, through `in_words`).
"""

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypedDict

from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone

from activity.models import Action, ActivityLog

EMPTY = "—"
ARROW = " → "

VERBS: dict[str, str] = {
    Action.CREATE: "created",
    Action.UPDATE: "updated",
    Action.DELETE: "deleted",
    Action.RESTORE: "restored",
    Action.START: "started",
    Action.COMPLETE: "completed",
    Action.RETRY: "retried",
    Action.REQUEUE: "requeued",
    Action.FAIL: "failed",
    Action.CANCEL: "cancelled",
    Action.UPLOAD: "uploaded",
    Action.DOWNLOAD: "downloaded",
    Action.APPROVE: "approved",
    Action.PUBLISH: "published",
    Action.GRANT: "granted a role to",
    Action.REVOKE: "revoked a role from",
}


class Kind(enum.StrEnum):
    TEXT = "text"
    USER = "user"
    DATE = "date"
    DATETIME = "datetime"
    CHOICE = "choice"
    BOOLEAN = "boolean"


# The kinds a field change names, as the API's schema lists them.
KIND_CHOICES = [(kind.value, kind.value) for kind in Kind]


@dataclass(frozen=True)
class Vocabulary:
    """How one resource type's fields read."""

    noun: str
    labels: Mapping[str, str] = field(default_factory=dict)
    kinds: Mapping[str, Kind] = field(default_factory=dict)
    choices: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def label(self, name: str) -> str:
        return self.labels.get(name) or name.replace("_", " ")


_vocabularies: dict[str, Vocabulary] = {}


def _kind_of(model_field: models.Field) -> Kind:
    if model_field.is_relation and model_field.related_model is get_user_model():
        return Kind.USER
    if model_field.choices:
        return Kind.CHOICE
    if isinstance(model_field, models.BooleanField):
        return Kind.BOOLEAN
    if isinstance(model_field, models.DateTimeField):
        return Kind.DATETIME
    if isinstance(model_field, models.DateField):
        return Kind.DATE
    return Kind.TEXT


def register(
    resource_type: str,
    model: type[models.Model],
    *,
    kinds: Mapping[str, Kind] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Vocabulary:
    fields = model._meta.concrete_fields
    vocabulary = Vocabulary(
        noun=str(model._meta.verbose_name),
        labels={f.name: str(f.verbose_name) for f in fields} | dict(labels or {}),
        kinds={f.name: _kind_of(f) for f in fields} | dict(kinds or {}),
        choices={f.name: {str(k): str(v) for k, v in f.flatchoices} for f in fields if f.choices},
    )
    _vocabularies[resource_type] = vocabulary
    return vocabulary


def vocabulary_for(resource_type: str) -> Vocabulary:
    return _vocabularies.get(resource_type) or Vocabulary(noun=resource_type.replace("_", " "))


class FieldChange(TypedDict):
    field: str
    label: str
    # What the values are: `datetime` ones are ISO 8601 instants (or EMPTY), any other in words.
    kind: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Description:
    verb: str
    text: str
    fields: list[FieldChange]


def describe_rows(entries: Iterable[ActivityLog]) -> list[ActivityLog]:
    """Describe each row, naming every user the rows' changes mention in one query.

    Each row keeps its description, for whatever shows it next (the serializer, the admin,
    the event): `description(entry)` reads it.
    """
    rows = list(entries)
    names = _user_names(_user_ids(rows))
    for entry in rows:
        entry.__dict__["_description"] = _describe(entry, names)
    return rows


def description(entry: ActivityLog) -> Description:
    """The row's description; one not described with its page is described alone."""
    if "_description" not in entry.__dict__:
        describe_rows([entry])
    return entry.__dict__["_description"]


def _user_ids(rows: list[ActivityLog]) -> set[int]:
    ids: set[int] = set()
    for entry in rows:
        kinds = vocabulary_for(entry.resource_type).kinds
        for name, value in (entry.changes or {}).items():
            if kinds.get(name) == Kind.USER:
                ids.update(v for v in _values_of(entry, value) if isinstance(v, int))
    return ids


def _user_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    users = get_user_model().objects.filter(pk__in=ids)
    return {pk: name for pk, name in users.values_list("pk", users.model.USERNAME_FIELD)}


def _is_diff(entry: ActivityLog) -> bool:
    """An update stores `{field: [before, after]}`; a create or hard delete the whole record.

    Soft deletes and restores are diffs too, so the action alone cannot tell.
    """
    changes = entry.changes or {}
    return (
        entry.action not in (Action.CREATE, Action.UPLOAD)
        and bool(changes)
        and all(isinstance(pair, list) and len(pair) == 2 for pair in changes.values())
    )


def _values_of(entry: ActivityLog, value: Any) -> list[Any]:
    return list(value) if _is_diff(entry) else [value]


def _describe(entry: ActivityLog, names: dict[int, str]) -> Description:
    vocabulary = vocabulary_for(entry.resource_type)
    actor = entry.actor_label or "system"
    verb = VERBS.get(entry.action, entry.action)
    resource = entry.resource_repr or entry.resource_id
    text = f"{actor} {verb} {vocabulary.noun} “{resource}”"
    return Description(verb, text, _field_changes(entry, vocabulary, names))


def _field_changes(
    entry: ActivityLog, vocabulary: Vocabulary, names: dict[int, str]
) -> list[FieldChange]:
    def kind(name: str) -> Kind:
        return vocabulary.kinds.get(name, Kind.TEXT)

    def shown(name: str, value: Any) -> str:
        return _format(value, kind(name), name, vocabulary, names)

    changes = entry.changes or {}
    if _is_diff(entry):
        return [
            FieldChange(
                field=name,
                label=vocabulary.label(name),
                kind=kind(name),
                before=shown(name, before),
                after=shown(name, after),
            )
            for name, (before, after) in changes.items()
        ]
    removed = entry.action == Action.DELETE
    return [
        FieldChange(
            field=name,
            label=vocabulary.label(name),
            kind=kind(name),
            before=shown(name, value) if removed else None,
            after=None if removed else shown(name, value),
        )
        for name, value in changes.items()
    ]


def _format(value: Any, kind: Kind, name: str, vocabulary: Vocabulary, names: dict) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, list):
        separator = "; " if any(isinstance(item, dict) for item in value) else ", "
        return separator.join(_format(item, kind, name, vocabulary, names) for item in value)
    if kind == Kind.USER and isinstance(value, int):
        return names.get(value, f"user #{value}")
    if kind == Kind.CHOICE:
        return vocabulary.choices.get(name, {}).get(str(value), str(value))
    if kind == Kind.BOOLEAN:
        return "yes" if value else "no"
    if kind == Kind.DATE and isinstance(value, str):
        return _date(value)
    if kind == Kind.DATETIME and isinstance(value, str):
        return _instant(value)
    return _plain(value)


def _plain(value: Any) -> str:
    """A value of no known kind (a JSON field's, say) as people write it: `key: value` pairs,
    lists as lists, yes and no."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{_key(key)}: {_nested(item)}" for key, item in value.items())
    if isinstance(value, list):
        separator = "; " if any(isinstance(item, dict) for item in value) else ", "
        return separator.join(_plain(item) for item in value)
    return value if isinstance(value, str) else str(value)


def _key(key: str) -> str:
    return key.replace("_", " ")


def _nested(value: Any) -> str:
    """A value inside a mapping, in brackets when it has parts of its own."""
    text = _plain(value)
    many = isinstance(value, dict | list) and len(value) > 1
    return f"({text})" if many else text


def _date(value: str) -> str:
    """A day as people write it: 1 Dec 2026."""
    try:
        return date.fromisoformat(value).strftime("%-d %b %Y")
    except ValueError:
        return value


def _instant(value: str) -> str:
    """A moment stays an ISO 8601 instant, for each reader to show in their own time zone."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment.isoformat()


def in_words(change: FieldChange) -> tuple[str | None, str | None]:
    """A change's values as people read them here, where no browser says its zone: a moment
    in the current time zone (the service's, UTC unless set), named."""

    def worded(value: str | None) -> str | None:
        if value is None or change["kind"] != Kind.DATETIME:
            return value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return timezone.localtime(moment).strftime("%-d %b %Y %H:%M %Z").strip()

    return worded(change["before"]), worded(change["after"])
