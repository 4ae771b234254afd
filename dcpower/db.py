"""Database helpers that the ORM does not offer at the cost we need."""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet


def instance_from_values(model, values: dict):
    """An instance of ``model`` as the database gave ``values`` (by attname), its other fields
    deferred, as only() makes one: for rows read as plain values or extra columns."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(model.objects.db, names, [values[name] for name in names])


def placeholders(count: int) -> str:
    """``count`` parameter placeholders, comma-separated: the inside of ``IN (...)`` for a
    statement written in SQL, its values passed as parameters (ADR 0020)."""
    return ", ".join(["%s"] * count)


def bulk_update_by_pk(model, objects, fields: list[str], *, batch_size: int = 1000) -> None:
    """Write ``fields`` of ``objects`` (each row its own values), like QuerySet.bulk_update.

    On PostgreSQL: one ``UPDATE ... FROM (VALUES ...)`` per batch. Django's bulk_update
    builds a ``CASE WHEN pk = ... THEN ...`` expression per field and row, which cost a poll
    round of 200 PDUs more CPU than reading them (bench/telemetry_polling.py). Elsewhere
    (SQLite, the embedded default) bulk_update itself. Values must be plain (no F()).
    """
    objects = list(objects)
    if not objects:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objects, fields, batch_size=batch_size)
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    pk = meta.pk
    qn = connection.ops.quote_name
    assignments = ", ".join(
        f"{qn(f.column)} = v.{qn(f.column)}::{f.db_type(connection)}" for f in columns
    )
    names = ", ".join(qn(c) for c in [pk.column, *(f.column for f in columns)])
    width = len(columns) + 1
    row = f"({placeholders(width)})"
    with connection.cursor() as cursor:
        for start in range(0, len(objects), batch_size):
            batch = objects[start : start + batch_size]
            params = []
            for obj in batch:
                params.append(obj.pk)
                params.extend(
                    f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns
                )
            cursor.execute(
                f"UPDATE {qn(meta.db_table)} AS t SET {assignments} "  # noqa: S608 - names from the model
                f"FROM (VALUES {', '.join([row] * len(batch))}) AS v({names}) "
                f"WHERE t.{qn(pk.column)} = v.{qn(pk.column)}::{pk.db_type(connection)}",
                params,
            )


def update_rows(model, values: dict, *, where: str, match) -> int:
    """``UPDATE`` the rows of ``model`` whose field ``where`` equals ``match`` (or is one of
    them, given a list or tuple, or one of what a ``values()`` queryset of one field selects,
    as a subquery), setting ``values`` (field name to value, each prepared by
    its field as ``QuerySet.update`` would); returns how many rows it changed.

    The same statement ``filter(...).update(...)`` makes, without building a query to make
    it: on the power path's writes that building cost more than the database took to write
    (ADR 0022). Plain values only (no F() or other expressions); no signals, as update()."""
    meta = model._meta
    qn = connection.ops.quote_name
    fields = [meta.get_field(name) for name in values]
    assignments = ", ".join(f"{qn(field.column)} = %s" for field in fields)
    params = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, values.values(), strict=True)
    ]
    column = qn(meta.get_field(where).column)
    if isinstance(match, QuerySet):
        subquery, subquery_params = match.query.sql_with_params()
        condition = f"{column} IN ({subquery})"
        params.extend(subquery_params)
    elif isinstance(match, list | tuple):
        if not match:
            return 0
        condition = f"{column} IN ({placeholders(len(match))})"
        params.extend(match)
    else:
        condition = f"{column} = %s"
        params.append(match)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(meta.db_table)} SET {assignments} WHERE {condition}",  # noqa: S608 - names from the model
            params,
        )
        return cursor.rowcount
