"""Small helpers for tests that wait on other processes."""

import time


def wait_for(predicate, *, timeout=120.0, interval=0.25, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {message}")


def stored_column(instance, field_name: str) -> str:
    """What the database column holds for ``instance`` (the token of an encrypted field, not the plain text)."""
    from django.db import connection

    model = type(instance)
    field = model._meta.get_field(field_name)
    quote = connection.ops.quote_name
    table, column, pk = quote(model._meta.db_table), quote(field.column), quote(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {table} WHERE {pk} = %s",
            [model._meta.pk.get_db_prep_value(instance.pk, connection)],
        )
        return cursor.fetchone()[0]
