"""Database helpers that the ORM does not offer at the cost we need."""

from __future__ import annotations

import dataclasses
import functools

from django.db import connection, transaction

# The most parameters PostgreSQL's protocol carries for one statement bound on the server.
SERVER_BOUND_PARAMS_MAX = 65535


def cursor(params=()):
    """A cursor for a statement this project writes in SQL, which the power path runs on
    every command (ADR 0024), with ``params`` its parameters.

    On PostgreSQL it binds the parameters on the server, so psycopg prepares a statement
    once this connection has run it ``prepare_threshold`` times (the database's OPTIONS,
    dcpower/settings.py) and PostgreSQL plans it once, not at every run: planning the
    claim with its rows took twice as long as running it. Django's own cursors bind on the
    client and never prepare. Elsewhere (SQLite), with prepared statements turned off, or
    for more parameters than the server takes, Django's cursor. Either way Django's
    wrapper: its error classes, its query log."""
    if connection.vendor != "postgresql" or len(params) > SERVER_BOUND_PARAMS_MAX:
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()  # the threshold is the live connection's
    if connection.connection.prepare_threshold is None:
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        server_binding = ServerBindingCursor(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(server_binding)
    return connection.make_cursor(server_binding)


def read_instances(model, sql: str, params) -> list:
    """What ``model.objects.raw(sql, params)`` gives, as a list, read through ``cursor()``:
    an instance for each row, built from the model's columns (the others deferred) converted
    as the ORM converts them; every other column set on it as the driver returned it."""
    with cursor(params) as c:
        c.execute(sql, params)
        names = [column[0] for column in c.description]
        found = c.fetchall()
    position = {name: i for i, name in enumerate(names)}
    # In the model's order of fields, which from_db expects (not the select list's).
    fields = [
        (position[col.target.column], attname, col, converters)
        for attname, col, converters in _converters(model, connection.vendor)
        if col.target.column in position
    ]
    columns = {col.target.column for _, _, col, _ in fields}
    others = [(i, name) for i, name in enumerate(names) if name not in columns]
    attnames = [attname for _, attname, _, _ in fields]
    db = model.objects.db
    instances = []
    for row in found:
        values = [_convert(row[i], col, converters) for i, _, col, converters in fields]
        instance = model.from_db(db, attnames, values)
        for i, name in others:
            setattr(instance, name, row[i])
        instances.append(instance)
    return instances


def instance_from_values(model, values: dict):
    """An instance of ``model`` as the database gave ``values`` (by attname), its other fields
    deferred, as only() makes one: for rows read as plain values or extra columns."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(model.objects.db, names, [values[name] for name in names])


def instance_from_db(model, values: dict):
    """An instance of ``model`` from its columns as the database driver returned them (by
    attname), converted as the ORM converts what it reads (the backend's converters, then
    each field's own: SQLite's booleans and times, decrypted secrets): for a model's columns
    read alongside another model's rows, which ``read_instances`` (as ``raw()``) hands over
    unconverted."""
    converted = {
        attname: _convert(values[attname], col, converters)
        for attname, col, converters in _converters(model, connection.vendor)
        if attname in values
    }
    return instance_from_values(model, converted)


def _convert(value, col, converters):
    for convert in converters:
        value = convert(value, col, connection)
    return value


@dataclasses.dataclass(frozen=True)
class Beside:
    """Another model's columns read beside the rows of ``read_instances``, each under an
    alias (it sets them on each row as they come, unconverted, as ``raw()`` does):
    ``select`` is their part of the select list, ``aliases`` each column's alias by
    attname."""

    model: type
    select: str
    aliases: dict[str, str]

    @classmethod
    def columns(cls, model, table: str, prefix: str, *, fields=None, only_when: str = ""):
        """``model``'s columns (or ``fields``) from the table aliased ``table``, each named
        ``prefix`` and its column; with ``only_when`` (an SQL condition), NULL where it fails."""
        qn = connection.ops.quote_name
        fields = fields if fields is not None else model._meta.concrete_fields
        aliases = {f.attname: f"{prefix}{f.column}" for f in fields}

        def column(field) -> str:
            value = f"{table}.{qn(field.column)}"
            return f"CASE WHEN {only_when} THEN {value} END" if only_when else value

        select = ", ".join(f"{column(f)} AS {qn(aliases[f.attname])}" for f in fields)
        return cls(model, select, aliases)

    def value(self, row, attname: str):
        return getattr(row, self.aliases[attname])

    def instance(self, row):
        """The instance those columns of ``row`` make, converted as the ORM converts."""
        values = {attname: getattr(row, alias) for attname, alias in self.aliases.items()}
        return instance_from_db(self.model, values)


@functools.cache
def _converters(model, vendor: str) -> list[tuple[str, object, list]]:
    # What SQLCompiler.get_converters finds for each column (``vendor`` keys the cache).
    found = []
    for field in model._meta.concrete_fields:
        col = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        found.append((field.attname, col, converters))
    return found


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


@dataclasses.dataclass(frozen=True)
class Statement:
    """One SQL statement and its parameters, to run alone (``execute``) or with others
    (``write_together``, which joins their parameters: a list each)."""

    sql: str
    params: list | dict


def update_statement(model, values: dict, *, where: str, match) -> Statement | None:
    """The ``UPDATE`` of the rows of ``model`` whose field ``where`` equals ``match`` (or is
    one of them, given a list or tuple, or one of what a ``Statement`` selecting one column
    selects, as a subquery), setting ``values`` (field name to value, each prepared by its
    field as ``QuerySet.update`` would); None when ``match`` is an empty list.

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
    if isinstance(match, Statement):
        condition = f"{column} IN ({match.sql})"
        params.extend(match.params)
    elif isinstance(match, list | tuple):
        if not match:
            return None
        condition = f"{column} IN ({placeholders(len(match))})"
        params.extend(match)
    else:
        condition = f"{column} = %s"
        params.append(match)
    sql = f"UPDATE {qn(meta.db_table)} SET {assignments} WHERE {condition}"  # noqa: S608 - names from the model
    return Statement(sql, params)


def update_rows(model, values: dict, *, where: str, match) -> int:
    """Run ``update_statement(...)``; returns how many rows it changed."""
    statement = update_statement(model, values, where=where, match=match)
    return 0 if statement is None else execute(statement)


def writes_in_one_statement() -> bool:
    """Whether a write can be a WITH clause of another statement, so that several writes (or
    a write and a read) are one round trip: PostgreSQL runs data-modifying statements inside
    WITH, and one statement is atomic on its own."""
    return connection.vendor == "postgresql"


def write_together(statements: list[Statement | None]) -> None:
    """Run ``statements`` (writes; Nones skipped) so that all or none take effect.

    On PostgreSQL they are one statement, each but the last a WITH clause of the last: one
    round trip to the database, where a transaction of their own takes one for BEGIN, one
    per write and one for COMMIT (ADR 0023). Elsewhere, one after the other in a transaction.
    The statements of one WITH see the same snapshot and not each other's changes, so no two
    of them may write the same row, and none may read what another writes."""
    statements = [statement for statement in statements if statement is not None]
    if not statements:
        return
    if len(statements) > 1 and writes_in_one_statement():
        clauses = ", ".join(f"w{n} AS ({s.sql})" for n, s in enumerate(statements[:-1]))
        params = [param for statement in statements for param in statement.params]
        statements = [Statement(f"WITH {clauses} {statements[-1].sql}", params)]
    if len(statements) == 1:  # atomic on its own
        execute(statements[0])
        return
    with transaction.atomic():
        for statement in statements:
            execute(statement)


def execute(statement: Statement) -> int:
    """Run one statement through ``cursor()``; returns how many rows it changed."""
    with cursor(statement.params) as c:
        c.execute(statement.sql, statement.params)
        return c.rowcount
