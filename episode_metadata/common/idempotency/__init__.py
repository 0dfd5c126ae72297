"""Idempotency keys: a client that retries a POST with the same `Idempotency-Key` gets the
first answer again instead of a second resource."""
