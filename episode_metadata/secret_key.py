"""The development secret key: generated on first start and kept, so sessions survive restarts."""

import secrets
from pathlib import Path


def load_or_create(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.touch(mode=0o600)
    path.write_text(key)
    return key
