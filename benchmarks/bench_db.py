"""Django on a fresh database, for the benchmarks that run in one process.

SQLite: the file at ``sqlite_path`` (removed first, with its WAL files). PostgreSQL: the
database BENCH_DATABASE_URL names, which the caller keeps fresh.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def setup_django(db: str, sqlite_path: str) -> None:
    if db == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
        os.environ["BENCH_DATABASE_URL"] = f"sqlite:///{sqlite_path}"
    elif not os.environ.get("BENCH_DATABASE_URL", "").startswith("postgres"):
        sys.exit("--db postgres needs BENCH_DATABASE_URL=postgres://.../a_fresh_db")
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"
    import django

    django.setup()
