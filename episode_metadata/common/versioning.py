"""A version number on a model's rows that every save increments, for optimistic concurrency
(`episode_metadata.common.preconditions`)."""

from typing import Any, ClassVar

from django.db import models
from django.db.models import F


class VersionedModel(models.Model):
    """Every `save()` of a stored row sets `version_field` to itself plus one in the same
    UPDATE, and reads the result back (RETURNING): no extra query, and concurrent saves each
    get their own number. Writes that bypass `save()` (`QuerySet.update()`) must do the same."""

    version_field: ClassVar[str] = "version"

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding:
            super().save(*args, **kwargs)
            return
        name = self.version_field
        before = getattr(self, name)
        setattr(self, name, F(name) + 1)
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], name}
        try:
            super().save(*args, **kwargs)
        except BaseException:
            setattr(self, name, before)
            raise
