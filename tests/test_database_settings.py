"""A SQLite database named by DATABASE_URL runs as the embedded one does: WAL, writers that
take the lock up front and wait for it, rather than 'database is locked' under a worker."""

from tests.test_settings import load, run_python


def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'named.sqlite3'}"


def test_a_sqlite_url_gets_the_options_of_the_embedded_default(tmp_path):
    embedded = load(tmp_path)
    named = load(tmp_path, DATABASE_URL=sqlite_url(tmp_path), SECRET_KEY="k" * 50)

    assert named["engine"] == "django.db.backends.sqlite3"
    assert named["name"] == str(tmp_path / "named.sqlite3")
    assert named["options"] == embedded["options"]
    assert named["options"]["transaction_mode"] == "IMMEDIATE"


def test_a_sqlite_url_really_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    code = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])\n"
        "    c.execute('PRAGMA busy_timeout'); print(c.fetchone()[0])\n"
    )
    result = run_python(code, tmp_path, DATABASE_URL=sqlite_url(tmp_path), SECRET_KEY="k" * 50)

    assert result.returncode == 0, result.stderr
    mode, timeout_ms = result.stdout.split()
    assert mode == "wal"
    assert int(timeout_ms) >= 1000
