"""Form fields that read what people type as the API reads what clients send."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput

from episode_metadata.common import parsers


class JSONField(forms.JSONField):
    """Django's JSON field, with the API's limits (`parsers.loads`): a document nested deep
    enough to exhaust Python's stack, or holding what no database stores or no page can show,
    is an error on the form. Django's own would raise from `json.loads` or from encoding the
    page that shows the input again beside the error: a 500 either way."""

    def to_python(self, value: Any) -> Any:
        refusal = self._refusal(value)
        if refusal is not None:
            raise ValidationError(refusal, code="invalid")
        return super().to_python(value)

    def bound_data(self, data: Any, initial: Any) -> Any:
        if self._refusal(data) is not None:
            return InvalidJSONInput(data)  # shown again as typed
        return super().bound_data(data, initial)

    def _refusal(self, value: Any) -> str | None:
        if not isinstance(value, str) or self.disabled:
            return None
        try:
            parsers.loads(value)
        except parsers.JSONError as exc:
            return str(exc)
        except ValueError:
            return None  # not JSON at all: Django's own message says so
        return None
