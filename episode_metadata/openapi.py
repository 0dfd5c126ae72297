"""The OpenAPI schema as the service really answers.

drf-spectacular describes successful responses from the serializers. What it cannot see is
stated here once for all operations: the error answers of DRF's exception handling and of
pagination, the limits the filters enforce, and the links from a created resource to what
can be done with it, which clients and the fuzz suite follow.
"""

from typing import Any

import django_filters
from django import forms
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import force_instance

from episode_metadata.common import preconditions
from episode_metadata.common.errors import FIELD_ERRORS_SCHEMA
from episode_metadata.common.filters import DATE_TIME_OFFSET, NO_NUL
from episode_metadata.common.idempotency.views import HEADER as IDEMPOTENCY_KEY
from episode_metadata.common.idempotency.views import REPLAYED_HEADER
from episode_metadata.common.serializer_fields import ShapedJSONField

DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
FIELD_ERRORS = {
    "type": "object",
    "description": "Messages per invalid field (or `detail` for the whole request). A list's "
    "or a nested object's field maps each bad item's index or key to its own messages.",
    "additionalProperties": {
        "anyOf": [
            {"type": "string"},
            {"type": "array", "items": {"anyOf": [{"type": "string"}, FIELD_ERRORS_SCHEMA]}},
            FIELD_ERRORS_SCHEMA,
        ]
    },
}
# A signed 64-bit column is the widest any id or number filter is compared with.
INT64 = {"minimum": -(2**63), "maximum": 2**63 - 1}
WRITE_METHODS = ("post", "put", "patch")
# The result of a job type whose handler returns nothing.
NO_RESULT = {"enum": [None], "nullable": True}
RESULT_DESCRIPTION = (
    "What the handler returned, null until the job completes. Its `files` carry their "
    "download `url`."
)


class ConstrainedFilterExtension(DjangoFilterExtension):
    """The django-filter parameters with the bounds their form fields enforce: a value the
    schema allows is one the filter accepts."""

    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        parameters = super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field
        )
        for parameter in parameters:
            schema = parameter["schema"]
            _constrain(schema.get("items", schema), filter_field)
            if isinstance(filter_field, django_filters.OrderingFilter):
                # Repeated, as generators send a list; comma-separated works as well.
                parameter["explode"] = True
            # django-filter leaves a filter given no value out, as if it were not there.
            parameter["allowEmptyValue"] = True
        return parameters


class ShapedJSONFieldExtension(OpenApiSerializerFieldExtension):
    """A JSON column as the shape the service stores in it."""

    target_class = ShapedJSONField

    def map_serializer_field(self, auto_schema, direction):
        return auto_schema._map_serializer_field(force_instance(self.target.shape), direction)


def _constrain(schema: dict, filter_field) -> None:
    extra = filter_field.extra
    if issubclass(filter_field.field_class, forms.IntegerField) and schema["type"] == "number":
        schema["type"] = "integer"
    if schema["type"] == "integer":
        schema.update(INT64)
    if extra.get("min_value") is not None:
        schema["minimum"] = extra["min_value"]
    if extra.get("max_value") is not None:
        schema["maximum"] = extra["max_value"]
    if extra.get("max_length") is not None:
        schema["maxLength"] = extra["max_length"]
    if schema["type"] == "string" and "format" not in schema and "enum" not in schema:
        schema["pattern"] = NO_NUL
    if schema.get("format") == "date-time":
        schema["pattern"] = DATE_TIME_OFFSET


def _ref(name: str, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }


def _parameter_names(operation: dict) -> set[str]:
    return {parameter["name"] for parameter in operation.get("parameters", [])}


def _errors_for(path: str, method: str, operation: dict) -> dict:
    errors = {}
    names = _parameter_names(operation)
    if method in WRITE_METHODS or names:
        errors["400"] = _ref("FieldErrors", "Invalid input, with a message per field.")
    if any(operation.get("security") or []):
        errors["401"] = _ref("ErrorDetail", "Missing, invalid or expired credentials.")
        errors["403"] = _ref("ErrorDetail", "Authenticated but not allowed.")
    missing = [
        *(["Nothing matches this id."] if "{" in path else []),
        *(["No such page."] if "page" in names else []),
    ]
    if missing:
        errors["404"] = _ref("ErrorDetail", " ".join(missing))
    if "requestBody" in operation:
        errors["413"] = _ref("ErrorDetail", "The body is larger than the service accepts.")
        errors["415"] = _ref("ErrorDetail", "A body of a media type this operation does not read.")
    if IDEMPOTENCY_KEY in names:
        errors["422"] = _ref(
            "ErrorDetail", f"This {IDEMPOTENCY_KEY} was used with a different request."
        )
    if path.endswith("/auth/login"):
        errors["401"] = _ref("ErrorDetail", "Wrong username or password.")
        errors["429"] = _ref("ErrorDetail", "Too many failed attempts from this client.")
    if path.endswith("/realtime/ticket/"):
        errors["429"] = _ref("ErrorDetail", "Too many tickets asked for; see Retry-After.")
    return errors


ETAG = {
    "description": "The resource's version, quoted (a strong ETag): send it back in If-Match.",
    "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
}
IF_MATCH = {
    "name": preconditions.HEADER,
    "in": "header",
    "required": False,
    "description": "Make the change only if the resource is still at one of these versions "
    '(their ETags, comma-separated, e.g. `"3"`), or exists at all (`*`). Weak tags and '
    "anything else match no version. Required when the service runs with REQUIRE_IF_MATCH.",
    "schema": {"type": "string"},
}


def _versioned(path: str, method: str, operation: dict, field: str, schemas: dict) -> None:
    """An operation on a versioned resource: its answers carry the ETag, and a change of one
    that exists takes If-Match and may answer 412 or 428."""
    for status, response in operation["responses"].items():
        if status.startswith("2") and "content" in response:
            response["headers"] = {"ETag": ETAG}
    creates = method == "post" and "{" not in path
    if method == "get" or creates:
        return
    name = f"Stale{field.capitalize()}"
    schemas[name] = {
        "type": "object",
        "properties": {"detail": {"type": "string"}, field: {"type": "integer", "minimum": 0}},
        "required": ["detail", field],
    }
    operation.setdefault("parameters", []).append(IF_MATCH)
    operation["responses"]["412"] = {
        **_ref(name, f"If-Match names another version: the body and the ETag give the {field}."),
        "headers": {"ETag": ETAG},
    }
    operation["responses"]["428"] = _ref("ErrorDetail", "If-Match is required and missing.")


def _mark_replays(operation: dict) -> None:
    """A create that takes an idempotency key says when its answer is a replay."""
    if IDEMPOTENCY_KEY not in _parameter_names(operation):
        return
    replayed = {
        "description": "Present on the answer to a retry: the first request's answer, again.",
        "schema": {"type": "string", "enum": ["true"]},
    }
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            response.setdefault("headers", {})[REPLAYED_HEADER] = replayed


def _constrain_parameters(operation: dict) -> None:
    """Pagination's own parameters, and integer ids in paths, with the bounds enforced."""
    for parameter in operation.get("parameters", []):
        schema = parameter["schema"]
        if parameter["name"] in ("page", "page_size"):
            # A larger page size than the largest is served as the largest.
            schema["minimum"] = 1
        if parameter["name"] == "page":
            parameter["allowEmptyValue"] = True
        if parameter["name"] == "cursor":
            # Opaque, as a `next` or `previous` link hands it out; base64 at least.
            schema["pattern"] = "^[A-Za-z0-9+/]*={0,2}$"
        if parameter["in"] == "path" and schema.get("type") == "integer":
            schema.update({"minimum": 0, "maximum": INT64["maximum"]})


def _forbid_nul(schema: dict, schemas: dict, seen: set[str]) -> None:
    """Every free text in a request body: the JSON parser refuses a NUL character."""
    name = schema.get("$ref", "").rsplit("/", 1)[-1]
    if name in schemas and name not in seen:
        seen.add(name)
        _forbid_nul(schemas[name], schemas, seen)
    if schema.get("type") == "string" and not ({"format", "enum", "pattern"} & set(schema)):
        schema["pattern"] = NO_NUL
    children = [
        *schema.get("properties", {}).values(),
        *(
            schema[key]
            for key in ("items", "additionalProperties")
            if isinstance(schema.get(key), dict)
        ),
        *(child for key in ("oneOf", "anyOf", "allOf") for child in schema.get(key, [])),
    ]
    for child in children:
        _forbid_nul(child, schemas, seen)


def _job_types(schemas: dict) -> None:
    """A job, asked for or answered, is a variant per registered type, told apart by its
    `job_type`: the payload a type takes, and nothing else, and the result it gives are known
    once the type is."""
    from jobs import json_schema, registry

    requests, answers = {}, {}
    for declared in registry.all_types():
        stem = "".join(part.capitalize() for part in declared.name.split("_"))
        payload = _nullable(json_schema.field_schema(declared.payload()))
        schemas[f"{stem}Payload"] = {**payload, "additionalProperties": False}
        result = NO_RESULT
        if declared.result is not None:
            schemas[f"{stem}Result"] = _nullable(json_schema.field_schema(declared.result()))
            result = {"allOf": [_schema_ref(f"{stem}Result")], "nullable": True}
        job_type = {"type": "string", "enum": [declared.name]}
        if not declared.internal:  # the service's own: listed, never enqueued by a client
            requests[declared.name] = _variant(
                schemas,
                f"{stem}JobCreateRequest",
                schemas["JobCreateRequest"],
                job_type=job_type,
                payload=_schema_ref(f"{stem}Payload"),
            )
        answers[declared.name] = _variant(
            schemas,
            f"{stem}Job",
            schemas["Job"],
            job_type={**job_type, "readOnly": True},
            payload={"allOf": [_schema_ref(f"{stem}Payload")], "readOnly": True},
            result={**result, "readOnly": True, "description": RESULT_DESCRIPTION},
        )
    schemas["JobCreateRequest"] = _one_of(requests, schemas["JobCreateRequest"])
    schemas["Job"] = _one_of(answers, schemas["Job"])


def _variant(schemas: dict, name: str, base: dict, **properties: dict) -> str:
    schemas[name] = {**base, "properties": {**base["properties"], **properties}}
    return f"#/components/schemas/{name}"


def _one_of(variants: dict[str, str], base: dict) -> dict:
    return {
        "oneOf": [{"$ref": ref} for ref in variants.values()],
        "discriminator": {"propertyName": "job_type", "mapping": variants},
        "description": base.get("description", ""),
    }


def _schema_ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    """A JSON Schema's `"type": [X, "null"]` as OpenAPI 3.0 says it: X, `nullable`."""
    converted = dict(schema)
    kind = converted.get("type")
    if isinstance(kind, list):
        converted["type"] = next(name for name in kind if name != "null")
        converted["nullable"] = True
    if "properties" in converted:
        converted["properties"] = {
            name: _nullable(child) for name, child in converted["properties"].items()
        }
    for key in ("items", "additionalProperties"):
        if isinstance(converted.get(key), dict):
            converted[key] = _nullable(converted[key])
    return converted


def _request_schema_names(result: dict) -> set[str]:
    names = set()
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                ref = media.get("schema", {}).get("$ref", "")
                names.add(ref.rsplit("/", 1)[-1])
    return names


def _creates_with_id(operation: dict | None, schemas: dict) -> bool:
    """Whether the operation answers 201 with a record that has an `id`."""
    created = (operation or {}).get("responses", {}).get("201", {})
    ref = created.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    answer = schemas.get(ref.rsplit("/", 1)[-1], {}) if ref else {}
    return "id" in answer.get("properties", {})


def _links(result: dict) -> None:
    """From each operation that creates a resource to every operation on that resource (and
    on what hangs off it): the id in the answer is the one to use."""
    paths = result.get("paths", {})
    schemas = result["components"]["schemas"]
    for path, operations in paths.items():
        create = operations.get("post")
        if not _creates_with_id(create, schemas):
            continue
        for target_path, targets in paths.items():
            parameter = _child_parameter(path, target_path)
            if parameter is None:
                continue
            for method, target in targets.items():
                link = _link(path, parameter, target)
                create["responses"]["201"].setdefault("links", {})[
                    f"{method.upper()} {target_path}"
                ] = link


def _child_parameter(path: str, target_path: str) -> str | None:
    rest = target_path.removeprefix(path)
    if rest == target_path or not rest.startswith("{"):
        return None
    return rest[1 : rest.index("}")]


def _link(path: str, parameter: str, target: dict) -> dict:
    parameters = {parameter: "$response.body#/id"}
    for name in _parameter_names(target) & _path_parameters(path):
        parameters[name] = f"$request.path.{name}"
    return {"operationId": target["operationId"], "parameters": parameters}


def _path_parameters(path: str) -> set[str]:
    return {part[1:-1] for part in path.split("/") if part.startswith("{")}


def add_error_responses(result: dict, generator, request, public) -> dict[str, Any]:
    """The postprocessing hook: errors, parameter bounds and links for every operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorDetail"] = DETAIL
    schemas["FieldErrors"] = FIELD_ERRORS
    if "JobCreateRequest" in schemas:
        _job_types(schemas)
    seen: set[str] = set()
    for name in _request_schema_names(result):
        _forbid_nul(_schema_ref(name), schemas, seen)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            field = operation.pop(preconditions.SCHEMA_EXTENSION, None)
            if field is not None:
                _versioned(path, method, operation, field, schemas)
            _constrain_parameters(operation)
            _mark_replays(operation)
            for status, response in _errors_for(path, method, operation).items():
                operation["responses"].setdefault(status, response)
    _links(result)
    return result
