"""Database helpers the engine's hot path needs."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, router
from django.db.models import Model


def update_rows(objs: Sequence[Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of each object with one parametrised UPDATE run as executemany.

    Django's ``bulk_update`` builds a CASE expression per field and row, which costs
    more Python time than the emails it records; executemany sends one statement with
    many parameter rows (pipelined by psycopg 3), in the caller's transaction.
    """
    if not objs:
        return
    model = type(objs[0])
    meta = model._meta
    db = router.db_for_write(model)
    connection = connections[db]
    quote = connection.ops.quote_name
    concrete = [meta.get_field(name) for name in fields]
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in concrete)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    params = [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in concrete]
        + [meta.pk.get_db_prep_save(obj.pk, connection)]
        for obj in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
