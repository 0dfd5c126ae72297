"""Adds the error answers every endpoint can give to the OpenAPI schema.

drf-spectacular describes successful responses from the serializers; the 400/401/403/404
answers come from DRF's exception handling, so they are stated here once for all operations.
"""

DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
FIELD_ERRORS = {
    "type": "object",
    "description": "A list of messages per invalid field (or `detail` for the whole request).",
    "additionalProperties": {
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
    },
}


def _ref(name: str, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }


def _errors_for(path: str, method: str, operation: dict) -> dict:
    errors = {}
    if method in ("post", "put", "patch") or operation.get("parameters"):
        errors["400"] = _ref("FieldErrors", "Invalid input, with a message per field.")
    if any(operation.get("security") or []):
        errors["401"] = _ref("ErrorDetail", "Missing, invalid or expired credentials.")
        errors["403"] = _ref("ErrorDetail", "Authenticated but not allowed.")
    if "{" in path:
        errors["404"] = _ref("ErrorDetail", "Nothing matches this id.")
    if path.endswith("/auth/login"):
        errors["401"] = _ref("ErrorDetail", "Wrong username or password.")
        errors["429"] = _ref("ErrorDetail", "Too many failed attempts from this client.")
    return errors


def add_error_responses(result: dict, generator, request, public) -> dict:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorDetail"] = DETAIL
    schemas["FieldErrors"] = FIELD_ERRORS
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            for status, response in _errors_for(path, method, operation).items():
                operation["responses"].setdefault(status, response)
    return result
