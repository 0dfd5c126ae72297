"""DRF's ModelSerializer, working its fields out from the model once per class.

DRF builds a model serializer's fields again for every instance: for each column it reads
the model field, maps it to a serializer field and works out the keyword arguments, which
for the nested serializers of one episode detail is a quarter of the request's CPU. What it
builds depends only on the class (its declarations and `Meta`), so the first instance's fields
are kept and every instance gets its own deep copy, made the way DRF copies declared fields.
"""

import copy

from rest_framework import serializers
from rest_framework.fields import Field

_built: dict[type, dict[str, Field]] = {}


class ModelSerializer(serializers.ModelSerializer):
    def get_fields(self) -> dict[str, Field]:
        built = _built.get(type(self))
        if built is None:
            built = _built[type(self)] = super().get_fields()
        return copy.deepcopy(built)
