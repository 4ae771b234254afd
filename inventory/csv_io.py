"""CSV import and export of the inventory: sites, racks, power feeds, PDUs, hosts and the wiring
of power supplies to outlets (docs/inventory.md, "CSV import and export").

One table, ``KINDS``, declares each kind's columns. Export writes exactly those columns (never
the write-only credentials); import reads them. Related objects are named by natural keys (a
site's slug, a rack's name within its site, ...), never by database ids.

Import validates every row with the models' own ``full_clean()``, inside one transaction, and
saves each valid row (in a savepoint) so that later rows are checked against it: a host in a
rack created three rows up, or two hosts placed in the same units. Every row is checked and
every error collected. Without ``commit``, or with any error, the transaction is rolled back:
a preview writes nothing, and an import is all or nothing.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import InvalidToken
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DatabaseError, models, transaction
from django.http import HttpResponse
from django.utils import timezone

from dcpower import crypto
from inventory import services
from inventory.models import PDU, Host, Outlet, PowerFeed, PowerSupply, Rack, Site

MAX_FILE_BYTES = 2_000_000
MAX_ROWS = 5_000
PREVIEW_TOKEN_TTL_S = 3600  # how long a previewed file may be confirmed

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
TRUE_WORDS = {"true", "yes", "1"}
FALSE_WORDS = {"false", "no", "0"}


class CsvImportError(Exception):
    """The file as a whole cannot be read (size, encoding, header): no row was looked at."""

    kind: str | None = None  # which file, when several are imported together (csv_import)


def csv_too_large_message(size: int) -> str:
    """Why a file of ``size`` bytes is refused: one wording for the service, the admin's upload
    and the API's request body, which refuse it before reading it."""
    return (
        f"The file is {size:,} bytes; at most {MAX_FILE_BYTES:,} are accepted. "
        "Split it into several files."
    )


@dataclass(frozen=True)
class Column:
    name: str
    help: str
    field: str | None = None  # the model field a plain value goes to; None: a reference
    required: bool = False  # must be in the header
    secret: bool = False  # write-only: imported when given, never exported


@dataclass(frozen=True)
class Kind:
    """One kind of row: its columns, how references resolve and how a row finds its object."""

    name: str
    model: type[models.Model]
    columns: tuple[Column, ...]
    key_columns: tuple[str, ...]  # the natural key: a row creates or updates the object it names
    # Row (values by column) -> model attributes of its references; raises _RowError.
    references: Callable[[dict[str, str]], dict[str, Any]]
    # (row, resolved references) -> the natural key as a filter of the model.
    natural_key: Callable[[dict[str, str], dict[str, Any]], dict[str, Any]]
    # Object -> the values of the reference columns.
    export_references: Callable[[Any], dict[str, str]]
    select_related: tuple[str, ...] = ()
    # Field name -> column name, for errors on reference fields.
    error_columns: dict[str, str] = field(default_factory=dict)
    # False: rows only update (outlets come and go with their PDU's outlet_count).
    creates: bool = True
    # The order of an export of every object, by natural key where ids would not be stable.
    ordering: tuple[str, ...] = ()

    @property
    def exported_columns(self) -> list[Column]:
        return [c for c in self.columns if not c.secret]

    def column_for_field(self, field_name: str) -> str:
        if field_name in self.error_columns:
            return self.error_columns[field_name]
        for column in self.columns:
            if column.field == field_name:
                return column.name
        return ""


# --- Resolving natural keys -----------------------------------------------------------------


class _RowError(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


def _site(row: dict[str, str]) -> Site:
    slug = row.get("site", "")
    if not slug:
        raise _RowError({"site": "Required: the site's slug."})
    site = Site.objects.filter(slug=slug).first()
    if site is None:
        raise _RowError({"site": f"No site with slug {slug!r}."})
    return site


def _in_site(model, site: Site, name: str, column: str, *, required: bool):
    if not name:
        if required:
            raise _RowError({column: f"Required: the {model._meta.verbose_name}'s name."})
        return None
    found = model.objects.filter(site=site, name=name).first()
    if found is None:
        raise _RowError({column: f"No {model._meta.verbose_name} {name!r} at site {site.slug!r}."})
    return found


def _pdu_in_site(site: Site, rack_name: str, name: str):
    pdus = PDU.objects.filter(rack__site=site, name=name)
    if rack_name:
        pdus = pdus.filter(rack__name=rack_name)
    found = list(pdus[:2])
    if not found:
        where = f"in rack {rack_name!r} " if rack_name else ""
        raise _RowError({"pdu": f"No PDU {name!r} {where}at site {site.slug!r}."})
    if len(found) > 1:
        raise _RowError(
            {"pdu_rack": f"Several racks at {site.slug!r} have a PDU {name!r}: say which."}
        )
    return found[0]


def _refs_site_only(row):
    return {"site": _site(row)}


def _refs_feed(row):
    site = _site(row)
    return {"site": site, "rack": _in_site(Rack, site, row.get("rack", ""), "rack", required=False)}


def _refs_pdu(row):
    site = _site(row)
    rack = _in_site(Rack, site, row.get("rack", ""), "rack", required=True)
    feed = _in_site(PowerFeed, site, row.get("feed", ""), "feed", required=False)
    return {"rack": rack, "feed": feed}


def _refs_host(row):
    site = _site(row)
    return {"site": site, "rack": _in_site(Rack, site, row.get("rack", ""), "rack", required=False)}


def _refs_supply(row):
    site = _site(row)
    host = _in_site(Host, site, row.get("host", ""), "host", required=True)
    pdu_name, number = row.get("pdu", ""), row.get("outlet", "")
    if not pdu_name and not number:
        return {"host": host, "outlet": None}
    if not pdu_name or not number:
        raise _RowError({"outlet" if pdu_name else "pdu": "Give both pdu and outlet, or neither."})
    pdu = _pdu_in_site(site, row.get("pdu_rack", ""), pdu_name)
    outlet = Outlet.objects.filter(pdu=pdu, number=number).first() if number.isdigit() else None
    if outlet is None:
        raise _RowError({"outlet": f"PDU {pdu.name!r} has no outlet {number!r}."})
    return {"host": host, "outlet": outlet}


def _refs_outlet(row):
    """An outlet by its PDU and number. Outlets follow their PDU's outlet_count (created and
    removed with it), so a row only ever updates one: naming a missing outlet is an error."""
    site = _site(row)
    pdu_name, number = row.get("pdu", ""), row.get("number", "")
    if not pdu_name:
        raise _RowError({"pdu": "Required: the PDU's name."})
    pdu = _pdu_in_site(site, row.get("pdu_rack", ""), pdu_name)
    if not number.isdigit() or not pdu.outlets.filter(number=int(number)).exists():
        raise _RowError(
            {
                "number": f"PDU {pdu.name!r} has no outlet {number!r}: its outlets are "
                f"1 to {pdu.outlet_count} (they follow the PDU's outlet_count)."
            }
        )
    return {"pdu": pdu}


def _name(obj) -> str:
    return obj.name if obj is not None else ""


# --- The column specs -----------------------------------------------------------------------

_SITE = Column("site", "The site's slug.", required=True)
_DESCRIPTION = Column("description", "Free text.", "description")
_SERIAL = Column("serial", "Serial number.", "serial")
_ASSET_TAG = Column("asset_tag", "Unique asset tag; empty for none.", "asset_tag")

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in [
        Kind(
            name="sites",
            key_columns=("slug",),
            model=Site,
            columns=(
                Column("slug", "Unique short name: the site's natural key.", "slug", True),
                Column("name", "Unique display name.", "name", required=True),
                _DESCRIPTION,
                Column("physical_address", "Street address.", "physical_address"),
                Column("poll_interval_s", "Telemetry poll interval, 5-86400 s.", "poll_interval_s"),
            ),
            references=lambda row: {},
            natural_key=lambda row, refs: {"slug": row["slug"]},
            export_references=lambda obj: {},
        ),
        Kind(
            name="racks",
            key_columns=("site", "name"),
            model=Rack,
            columns=(
                _SITE,
                Column("name", "Unique per site.", "name", required=True),
                Column("room", "Room.", "room"),
                Column("row", "Row of racks.", "row"),
                Column("u_height", "Height in units, 1-60 (default 42).", "u_height"),
                Column("status", "planned, active (default), reserved, deprecated.", "status"),
                _SERIAL,
                _ASSET_TAG,
                _DESCRIPTION,
            ),
            references=_refs_site_only,
            natural_key=lambda row, refs: {"site": refs["site"], "name": row["name"]},
            export_references=lambda obj: {"site": obj.site.slug},
            select_related=("site",),
        ),
        Kind(
            name="power_feeds",
            key_columns=("site", "name"),
            model=PowerFeed,
            columns=(
                _SITE,
                Column("name", "Unique per site.", "name", required=True),
                Column("rack", "The rack it is delivered to (at the site); optional."),
                Column("side", "A or B.", "side", required=True),
                Column("voltage", "Volts (line-to-line for three phase).", "voltage", True),
                Column("amperage", "Breaker rating, amperes.", "amperage", required=True),
                Column("phase", "single (default) or three.", "phase"),
                Column("derating_percent", "1-100 (default 80).", "derating_percent"),
                Column("status", "planned, active (default), offline, failed.", "status"),
                _DESCRIPTION,
            ),
            references=_refs_feed,
            natural_key=lambda row, refs: {"site": refs["site"], "name": row["name"]},
            export_references=lambda obj: {"site": obj.site.slug, "rack": _name(obj.rack)},
            select_related=("site", "rack"),
        ),
        Kind(
            name="pdus",
            key_columns=("site", "rack", "name"),
            model=PDU,
            columns=(
                _SITE,
                Column("rack", "The rack (at the site).", required=True),
                Column("name", "Unique per rack.", "name", required=True),
                Column("outlet_count", "1-128; outlets 1..N are created.", "outlet_count", True),
                Column("feed", "The power feed (at the site) it is plugged into; optional."),
                Column("mounting", "0u_left (default), 0u_right, rack_unit.", "mounting"),
                Column("position_u", "Lowest unit, for rack_unit mounting only.", "position_u"),
                Column("u_height", "Units, 1-4 (default 1).", "u_height"),
                Column("vendor_profile", "auto (default) or a vendor profile.", "vendor_profile"),
                Column("protocol", "snmp (default) or modbus_tcp.", "protocol"),
                Column("management_host", "Host name or IP address.", "management_host", True),
                Column("management_port", "Empty: 161 (SNMP) or 502 (Modbus).", "management_port"),
                Column("snmp_version", "v1, v2c (default), v3.", "snmp_version"),
                Column("snmp_v3_username", "SNMPv3 user.", "snmp_v3_username"),
                Column(
                    "snmp_v3_auth_protocol",
                    "none (default), md5, sha, ...",
                    "snmp_v3_auth_protocol",
                ),
                Column(
                    "snmp_v3_priv_protocol",
                    "none (default), des, aes128, ...",
                    "snmp_v3_priv_protocol",
                ),
                Column(
                    "snmp_v3_priv_key_extension",
                    "AES-192/256 key extension (default blumenthal).",
                    "snmp_v3_priv_key_extension",
                ),
                Column("modbus_unit_id", "0-255 (default 1).", "modbus_unit_id"),
                Column("modbus_address_base", "0, 1 or empty.", "modbus_address_base"),
                _SERIAL,
                _ASSET_TAG,
                _DESCRIPTION,
                Column("poll_interval_s", "Empty: the site's interval.", "poll_interval_s"),
                Column("snmp_read_community", "Write-only.", "snmp_read_community", secret=True),
                Column("snmp_write_community", "Write-only.", "snmp_write_community", secret=True),
                Column("snmp_v3_auth_key", "Write-only.", "snmp_v3_auth_key", secret=True),
                Column("snmp_v3_priv_key", "Write-only.", "snmp_v3_priv_key", secret=True),
            ),
            references=_refs_pdu,
            natural_key=lambda row, refs: {"rack": refs["rack"], "name": row["name"]},
            export_references=lambda obj: {
                "site": obj.rack.site.slug,
                "rack": obj.rack.name,
                "feed": _name(obj.feed),
            },
            select_related=("rack__site", "feed"),
            error_columns={"rack": "rack", "feed": "feed"},
        ),
        Kind(
            name="outlets",
            key_columns=("site", "pdu_rack", "pdu", "number"),
            model=Outlet,
            columns=(
                _SITE,
                Column("pdu_rack", "The PDU's rack; may be empty if the PDU name is unique."),
                Column("pdu", "The PDU (at the site).", required=True),
                Column("number", "The outlet's number, 1 to the PDU's outlet count.", None, True),
                Column("label", "Free text, e.g. what is plugged in.", "label"),
                Column("locked", "true: every power command refuses it.", "locked"),
                Column("lock_reason", "Why it is locked (required when locked).", "lock_reason"),
            ),
            references=_refs_outlet,
            natural_key=lambda row, refs: {"pdu": refs["pdu"], "number": int(row["number"])},
            export_references=lambda obj: {
                "site": obj.pdu.rack.site.slug,
                "pdu_rack": obj.pdu.rack.name,
                "pdu": obj.pdu.name,
                "number": str(obj.number),
            },
            select_related=("pdu__rack__site",),
            error_columns={"pdu": "pdu", "number": "number"},
            creates=False,
            ordering=("pdu__rack__site__slug", "pdu__rack__name", "pdu__name", "number"),
        ),
        Kind(
            name="hosts",
            key_columns=("site", "name"),
            model=Host,
            columns=(
                _SITE,
                Column("name", "Unique per site.", "name", required=True),
                Column("rack", "The rack (at the site); empty for none."),
                Column("position_u", "Lowest unit occupied; empty for none.", "position_u"),
                Column("u_height", "Units, 1-60 (default 1).", "u_height"),
                Column(
                    "status", "planned, active (default), maintenance, decommissioned.", "status"
                ),
                Column("role", "Free text, e.g. compute.", "role"),
                _SERIAL,
                _ASSET_TAG,
                Column("protected", "true or false (default).", "protected"),
                _DESCRIPTION,
            ),
            references=_refs_host,
            natural_key=lambda row, refs: {"site": refs["site"], "name": row["name"]},
            export_references=lambda obj: {"site": obj.site.slug, "rack": _name(obj.rack)},
            select_related=("site", "rack"),
        ),
        Kind(
            name="power_supplies",
            key_columns=("site", "host", "name"),
            model=PowerSupply,
            columns=(
                _SITE,
                Column("host", "The host (at the site).", required=True),
                Column("name", "Unique per host, e.g. PSU1.", "name", required=True),
                Column("max_draw_w", "Nameplate maximum, watts.", "max_draw_w", required=True),
                Column("allocated_draw_w", "Expected draw, watts (default 0).", "allocated_draw_w"),
                Column("pdu_rack", "The PDU's rack; may be empty if the PDU name is unique."),
                Column("pdu", "The PDU it is plugged into; empty: unplugged."),
                Column("outlet", "The outlet number on that PDU; empty: unplugged."),
            ),
            references=_refs_supply,
            natural_key=lambda row, refs: {"host": refs["host"], "name": row["name"]},
            export_references=lambda obj: {
                "site": obj.host.site.slug,
                "host": obj.host.name,
                "pdu_rack": obj.outlet.pdu.rack.name if obj.outlet else "",
                "pdu": obj.outlet.pdu.name if obj.outlet else "",
                "outlet": str(obj.outlet.number) if obj.outlet else "",
            },
            select_related=("host__site", "outlet__pdu__rack"),
            error_columns={"host": "host", "outlet": "outlet"},
        ),
    ]
}
# Import order when several kinds are imported together: each refers only to earlier kinds.
KIND_ORDER = list(KINDS)
KIND_OF_MODEL = {kind.model: kind for kind in KINDS.values()}


# --- Export ---------------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_export(*, kind: str, queryset: Iterable[models.Model] | None = None) -> str:
    """The objects as CSV text: a header of the kind's exported columns, one row per object.

    Credentials are never exported. The caller checks view permission.
    """
    spec = KINDS[kind]
    if queryset is None:
        queryset = (
            spec.model.objects.order_by(*spec.ordering)
            if spec.ordering
            else spec.model.objects.all()
        )
    if isinstance(queryset, models.QuerySet) and spec.select_related:
        queryset = queryset.select_related(*spec.select_related)
    columns = spec.exported_columns
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.name for c in columns])
    for obj in queryset:
        references = spec.export_references(obj)
        writer.writerow(
            [
                references[c.name] if c.field is None else _cell(getattr(obj, c.field))
                for c in columns
            ]
        )
    return out.getvalue()


def csv_export_response(*, kind: str, queryset: Iterable[models.Model]) -> HttpResponse:
    """The export of ``queryset`` as a download, as the admin and the API serve it: saved
    under the kind and when it was made."""
    response = HttpResponse(
        csv_export(kind=kind, queryset=queryset), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="dcpower-{kind}-{stamp}.csv"'
    return response


def csv_export_queryset(*, kind: str) -> models.QuerySet:
    """Every object of a kind in the order of the admin's unfiltered changelist (the model's
    ordering, ties by descending id, as Django's ChangeList makes it total): the admin's
    "Export all" and the API's export are the same file."""
    model = KINDS[kind].model
    return model.objects.order_by(*model._meta.ordering, "-pk")


# --- Who may export and import: the admin's rules, which the API shares ----------------------


def _permission(kind: str, action: str) -> str:
    opts = KINDS[kind].model._meta
    return f"{opts.app_label}.{action}_{opts.model_name}"


def csv_may_export(*, user, kind: str) -> bool:
    """The view or change permission of the kind's model, as ModelAdmin.has_view_permission.
    Reading is never scoped to sites (dcpower/access.py), so an export holds every site's
    objects."""
    return user.has_perm(_permission(kind, "view")) or user.has_perm(_permission(kind, "change"))


def csv_may_import(*, user, kind: str) -> bool:
    """The add or change permission of the kind's model, anywhere: each row is then checked at
    its own site (``_may_write``)."""
    return user.has_perm(_permission(kind, "add")) or user.has_perm(_permission(kind, "change"))


# --- Import ---------------------------------------------------------------------------------


@dataclass
class RowError:
    column: str  # "" for the row as a whole
    message: str


@dataclass
class RowResult:
    kind: str
    number: int  # as a spreadsheet shows it: the header is row 1
    values: dict[str, str]
    action: str | None = None  # created, updated, unchanged; None when it could not be told
    errors: list[RowError] = field(default_factory=list)

    @property
    def key(self) -> dict[str, str]:
        """The row's natural key as given (its values may hold credentials: only the key is
        safe to echo back)."""
        return {column: self.values.get(column, "") for column in KINDS[self.kind].key_columns}


@dataclass
class ImportResult:
    rows: list[RowResult] = field(default_factory=list)
    committed: bool = False

    @property
    def error_count(self) -> int:
        return sum(len(r.errors) for r in self.rows)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def counts(self) -> dict[str, int]:
        counted = Counter(r.action for r in self.rows if r.action)
        return {action: counted[action] for action in (CREATED, UPDATED, UNCHANGED)}

    def summary(self) -> str:
        counts = self.counts()
        return (
            f"{len(self.rows)} row(s): {counts[CREATED]} created, {counts[UPDATED]} updated, "
            f"{counts[UNCHANGED]} unchanged"
        )


@dataclass
class ParsedFile:
    kind: Kind
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]


def csv_parse(*, kind: str, content: bytes) -> ParsedFile:
    """Decode and split a file; raise CsvImportError for what makes the whole file unreadable."""
    spec = KINDS[kind]
    if len(content) > MAX_FILE_BYTES:
        raise CsvImportError(csv_too_large_message(len(content)))
    try:
        text = content.decode("utf-8-sig")  # with or without a byte order mark
    except UnicodeDecodeError as exc:
        raise CsvImportError(
            f"The file is not UTF-8 text (invalid byte at position {exc.start}). "
            "Save it as CSV UTF-8."
        ) from None
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise CsvImportError(f"The file is not valid CSV: {exc}.") from None
    records = [r for r in records if any(cell.strip() for cell in r)]
    if not records:
        raise CsvImportError("The file is empty: a header row naming the columns is required.")
    header = [name.strip().lower() for name in records[0]]
    known = [c.name for c in spec.columns]
    unknown = [name for name in header if name not in known]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    missing = [c.name for c in spec.columns if c.required and c.name not in header]
    problems = []
    if unknown:
        problems.append(f"Unknown column(s): {', '.join(unknown)}.")
    if duplicated:
        problems.append(f"Column(s) given twice: {', '.join(duplicated)}.")
    if missing:
        problems.append(f"Missing required column(s): {', '.join(missing)}.")
    if problems:
        problems.append(f"The columns of {kind} are: {', '.join(known)}.")
        raise CsvImportError(" ".join(problems))
    if len(records) - 1 > MAX_ROWS:
        raise CsvImportError(
            f"The file has {len(records) - 1:,} rows; at most {MAX_ROWS:,} are accepted. "
            "Split it into several files."
        )
    rows = []
    for number, record in enumerate(records[1:], start=2):
        rows.append((number, dict(zip(header, [cell.strip() for cell in record], strict=False))))
        if len(record) != len(header):
            rows[-1][1]["__cells__"] = str(len(record))
    return ParsedFile(kind=spec, header=header, rows=rows)


def _assign(obj, column: Column, raw: str, errors: list[RowError]) -> None:
    model_field = obj._meta.get_field(column.field)
    if column.secret and raw == "":
        return  # write-only: an empty cell keeps the stored secret
    if raw == "":
        if model_field.null:
            value = None
        elif model_field.has_default():
            value = model_field.get_default()
        elif isinstance(model_field, models.CharField) and model_field.blank:
            value = ""
        else:
            errors.append(RowError(column.name, "This field is required."))
            return
    elif isinstance(model_field, models.BooleanField):
        word = raw.lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            errors.append(RowError(column.name, f"{raw!r} is not true or false."))
            return
        value = word in TRUE_WORDS
    else:
        try:
            value = model_field.to_python(raw)
        except ValidationError as exc:
            errors.append(RowError(column.name, " ".join(exc.messages)))
            return
    setattr(obj, model_field.attname, value)


def _snapshot(obj) -> dict[str, Any]:
    return {f.attname: f.value_from_object(obj) for f in obj._meta.concrete_fields}


def _import_row(spec: Kind, number: int, row: dict[str, str], header, user) -> RowResult:
    result = RowResult(kind=spec.name, number=number, values=row)
    if "__cells__" in row:
        result.errors.append(
            RowError("", f"The row has {row.pop('__cells__')} cells; the header has {len(header)}.")
        )
        return result
    try:
        references = spec.references(row)
    except _RowError as exc:
        result.errors.extend(RowError(col, msg) for col, msg in exc.errors.items())
        return result
    stored = spec.model.objects.filter(**spec.natural_key(row, references)).first()
    obj = stored if stored is not None else spec.model()
    before = _snapshot(obj) if stored is not None else None
    for name, value in references.items():
        setattr(obj, name, value)
    if not _may_write(user, spec, obj, stored):
        verb = "add" if stored is None else "change"
        plural = spec.model._meta.verbose_name_plural
        if spec.name == "sites":
            result.errors.append(RowError("slug", f"You may not {verb} sites."))
        else:
            result.errors.append(RowError("site", f"You may not {verb} {plural} at this site."))
        return result
    for column in spec.columns:
        if column.field is not None and column.name in header:
            _assign(obj, column, row.get(column.name, ""), result.errors)
    if result.errors:
        return result
    try:
        obj.full_clean()
    except ValidationError as exc:
        for field_name, messages in exc.message_dict.items():
            column = "" if field_name == NON_FIELD_ERRORS else spec.column_for_field(field_name)
            result.errors.extend(RowError(column, message) for message in messages)
        return result
    result.action = CREATED if before is None else UPDATED
    if before is not None and _snapshot(obj) == before:
        result.action = UNCHANGED
    if result.action == UNCHANGED:
        return result
    try:
        with transaction.atomic():  # a savepoint: a refused row leaves the others intact
            obj.save()
            if isinstance(obj, PDU):
                services.pdu_sync_outlets(pdu=obj)
    except DatabaseError as exc:
        result.errors.append(RowError("", f"The database refused the row: {exc}"))
    return result


def _may_write(user, spec: Kind, obj, stored) -> bool:
    """The admin's site-scoped check (dcpower/access.py): add or change at the object's site.
    The site is part of every natural key, so an import never moves an object between sites."""
    action = "add" if stored is None else "change"
    return user.has_perm(f"inventory.{action}_{spec.model._meta.model_name}", obj)


def _duplicates(spec: Kind, parsed: ParsedFile, result_rows: dict[int, RowResult]) -> None:
    seen: dict[tuple[str, ...], int] = {}
    key_columns = spec.key_columns
    required = {c.name for c in spec.columns if c.required}
    for number, row in parsed.rows:
        key = tuple(row.get(c, "") for c in key_columns)
        if not all(value for c, value in zip(key_columns, key, strict=True) if c in required):
            continue  # an incomplete key is reported as such by the row itself
        if key in seen:
            result_rows[number].errors.append(
                RowError(
                    key_columns[-1],
                    f"Row {seen[key]} already has this {spec.model._meta.verbose_name} "
                    f"({', '.join(f'{c} {v!r}' for c, v in zip(key_columns, key, strict=True))}).",
                )
            )
        else:
            seen[key] = number


def csv_import(*, user, files: Sequence[tuple[str, bytes]], commit: bool) -> ImportResult:
    """Validate (and with ``commit``, write) CSV files, each ``(kind, content)``.

    Files are taken in dependency order (sites, racks, feeds, PDUs, outlets, hosts, supplies),
    so one import can create a rack and the hosts in it. Every row is validated; rows are written in
    one transaction that is rolled back unless ``commit`` is set and no row has an error.
    Raises CsvImportError if a file cannot be read at all (nothing is written then).
    """
    parsed = []
    for kind, content in files:
        try:
            parsed.append(csv_parse(kind=kind, content=content))
        except CsvImportError as exc:
            exc.kind = kind
            raise
    parsed.sort(key=lambda p: KIND_ORDER.index(p.kind.name))
    result = ImportResult()
    with transaction.atomic():
        for parsed_file in parsed:
            rows = {
                number: _import_row(parsed_file.kind, number, row, parsed_file.header, user)
                for number, row in parsed_file.rows
            }
            _duplicates(parsed_file.kind, parsed_file, rows)
            result.rows.extend(rows.values())
        result.committed = commit and result.ok
        if not result.committed:
            transaction.set_rollback(True)  # a preview, or an error: nothing is written
    return result


def csv_preview_token(*, user, kind: str, content: bytes) -> str:
    """The previewed file, to be carried by the preview page to its confirmation.

    Stateless (no temporary file or cache entry to share between web processes and clean up),
    and encrypted, not only signed: the file may hold PDU credentials, which the page must not
    show. Bound to the user and the kind, and valid for PREVIEW_TOKEN_TTL_S.
    """
    payload = {"user": user.pk, "kind": kind, "content": base64.b64encode(zlib.compress(content))}
    payload["content"] = payload["content"].decode()
    return crypto.cipher().encrypt(json.dumps(payload).encode()).decode()


def csv_preview_token_open(*, user, kind: str, token: str) -> bytes:
    """The file content a token carries; CsvImportError if it is not this user's, for this
    kind, or has expired."""
    try:
        payload = json.loads(crypto.cipher().decrypt(token.encode(), ttl=PREVIEW_TOKEN_TTL_S))
    except (InvalidToken, ValueError):
        raise CsvImportError(
            "The preview has expired or is invalid: upload the file again."
        ) from None
    if payload.get("user") != user.pk or payload.get("kind") != kind:
        raise CsvImportError("This preview belongs to another import: upload the file again.")
    return zlib.decompress(base64.b64decode(payload["content"]))


def csv_columns_markdown() -> str:
    """The columns of every kind, as docs/inventory.md lists them (a test keeps them equal)."""
    lines = []
    for spec in KINDS.values():
        key = ", ".join(f"`{c}`" for c in spec.key_columns)
        noun = spec.model._meta.verbose_name
        verb = "creates or updates" if spec.creates else "updates"
        lines += [
            f"#### `{spec.name}`",
            "",
            f"A row {verb} the {noun} named by {key}.",
            "",
            "| Column | Required | Meaning |",
            "| --- | --- | --- |",
        ]
        for column in spec.columns:
            required = "yes" if column.required else ""
            note = " Never exported." if column.secret else ""
            lines.append(f"| `{column.name}` | {required} | {column.help}{note} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
