"""CSV import and export (inventory/csv_io.py), against a real database.

Files are built as a technician writes them: a header row, natural keys, no database ids.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from django.db import IntegrityError

from dcpower.models import AuditEntry
from inventory import csv_io
from inventory.models import PDU, Host, Outlet, PowerFeed, PowerSupply, Rack, Site
from tests import factories

pytestmark = pytest.mark.django_db


def csv_bytes(header: str, *rows: str) -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode()


def run(user, kind: str, content: bytes, *, commit: bool) -> csv_io.ImportResult:
    return csv_io.csv_import(user=user, files=[(kind, content)], commit=commit)


def errors_by_row(result: csv_io.ImportResult) -> dict[int, list[tuple[str, str]]]:
    return {r.number: [(e.column, e.message) for e in r.errors] for r in result.rows if r.errors}


def inventory_snapshot() -> dict[str, set[tuple]]:
    """The whole inventory by natural keys, without ids or timestamps."""

    def rows(queryset, *fields):
        return set(queryset.values_list(*fields))

    return {
        "sites": rows(Site.objects, "slug", "name", "description", "poll_interval_s"),
        "racks": rows(
            Rack.objects,
            *("site__slug", "name", "room", "row", "u_height", "status", "asset_tag", "serial"),
        ),
        "feeds": rows(
            PowerFeed.objects,
            *("site__slug", "name", "rack__name", "side", "voltage", "amperage", "phase"),
            *("derating_percent", "status", "available_power_w"),
        ),
        "pdus": rows(
            PDU.objects,
            *("rack__site__slug", "rack__name", "name", "outlet_count", "feed__name", "mounting"),
            *("position_u", "u_height", "vendor_profile", "protocol", "management_host"),
            *("management_port", "snmp_version", "snmp_v3_username", "modbus_unit_id"),
            *("asset_tag", "poll_interval_s"),
        ),
        "outlets": rows(
            Outlet.objects,
            *("pdu__rack__name", "pdu__name", "number", "label", "locked", "lock_reason"),
        ),
        "hosts": rows(
            Host.objects,
            *("site__slug", "name", "rack__name", "position_u", "u_height", "status", "role"),
            *("serial", "asset_tag", "protected", "description"),
        ),
        "supplies": rows(
            PowerSupply.objects,
            *("host__site__slug", "host__name", "name", "max_draw_w", "allocated_draw_w"),
            *("outlet__pdu__rack__name", "outlet__pdu__name", "outlet__number"),
        ),
    }


@pytest.fixture
def superuser(admin_user):
    return admin_user


@pytest.fixture
def inventory(rack, feeds, pdus):
    """Two sites: racks, rack and site-level feeds, SNMP and Modbus PDUs, hosts in and out of
    racks, plugged and unplugged supplies."""
    pdu_a, pdu_b = pdus
    factories.make_dual_psu_host(
        rack=rack, pdu_a=pdu_a, pdu_b=pdu_b, outlet=1, position_u=1, u_height=2, role="compute"
    )
    factories.make_dual_psu_host(rack=rack, pdu_a=pdu_a, pdu_b=pdu_b, outlet=2, protected=True)
    pdu_a.outlets.filter(number=7).update(label="KVM")
    pdu_b.outlets.filter(number=8).update(locked=True, lock_reason="fragile load")
    loose = factories.make_host(site=rack.site, name="spare", asset_tag="AT-1")
    factories.make_supply(host=loose, name="PSU1", outlet=None, max_draw_w=500)
    other = factories.make_site(name="Other", slug="other", poll_interval_s=60)
    other_rack = factories.make_rack(site=other, name="X1", room="hall 2", asset_tag="R-X1")
    site_feed = PowerFeed(
        site=other, name="panel-3", side="B", voltage=400, amperage=16, phase="three"
    )
    site_feed.full_clean()
    site_feed.save()
    factories.make_pdu(
        rack=other_rack,
        name="meter",
        vendor_profile="modbus_power_meter",
        protocol="modbus_tcp",
        snmp_read_community="",
        outlet_count=3,
        feed=site_feed,
        mounting="rack_unit",
        position_u=40,
    )
    return rack


def export_all() -> dict[str, bytes]:
    return {kind: csv_io.csv_export(kind=kind).encode() for kind in csv_io.KINDS}


def delete_inventory() -> None:
    PowerSupply.objects.all().delete()
    Host.objects.all().delete()
    PDU.objects.all().delete()
    PowerFeed.objects.all().delete()
    Rack.objects.all().delete()
    Site.objects.all().delete()


def with_read_community(pdus_csv: bytes, community: str) -> bytes:
    """A write-only column added to an export, as a technician restoring PDUs would."""
    rows = list(csv.DictReader(io.StringIO(pdus_csv.decode())))
    out = io.StringIO()
    writer = csv.DictWriter(out, [*rows[0], "snmp_read_community"])
    writer.writeheader()
    for row in rows:
        row["snmp_read_community"] = community if row["protocol"] == "snmp" else ""
        writer.writerow(row)
    return out.getvalue().encode()


# --- Round trip and export ------------------------------------------------------------------


def test_export_then_import_into_an_empty_database_reproduces_the_inventory(inventory, superuser):
    before = inventory_snapshot()
    assert all(before.values())
    files = export_all()
    files["pdus"] = with_read_community(files["pdus"], "public")
    delete_inventory()
    assert not Site.objects.exists()

    # Given in any order: the import takes sites, racks, feeds, PDUs, outlets, hosts, supplies.
    result = csv_io.csv_import(user=superuser, files=list(reversed(files.items())), commit=True)

    assert result.ok, errors_by_row(result)
    assert result.committed
    assert {r.action for r in result.rows if r.kind != "outlets"} == {csv_io.CREATED}
    # Outlets come with their PDUs; their rows set the label and lock the export carried.
    outlet_actions = [r.action for r in result.rows if r.kind == "outlets"]
    assert sorted(set(outlet_actions)) == [csv_io.UNCHANGED, csv_io.UPDATED]
    assert outlet_actions.count(csv_io.UPDATED) == 2
    assert inventory_snapshot() == before
    assert PDU.objects.get(name="PDU-A").snmp_read_community == "public"
    # Exporting again gives the same files (the columns import reads are those export writes).
    again = export_all()
    assert again["racks"] == files["racks"]
    assert again["outlets"] == files["outlets"]
    assert again["power_supplies"] == files["power_supplies"]


def test_importing_an_unchanged_export_changes_nothing(inventory, superuser):
    audit_before = AuditEntry.objects.count()
    files = export_all()
    result = csv_io.csv_import(user=superuser, files=list(files.items()), commit=True)
    assert result.ok, errors_by_row(result)
    assert {r.action for r in result.rows} == {csv_io.UNCHANGED}
    assert AuditEntry.objects.count() == audit_before


def test_export_never_includes_credentials(rack):
    factories.make_pdu(
        rack=rack,
        name="v2",
        snmp_read_community="read-s3cret",
        snmp_write_community="write-s3cret",
    )
    factories.make_pdu(
        rack=rack,
        name="v3",
        snmp_version="v3",
        snmp_read_community="",
        snmp_v3_username="ops",
        snmp_v3_auth_protocol="sha",
        snmp_v3_auth_key="auth-s3cret",
        snmp_v3_priv_protocol="aes128",
        snmp_v3_priv_key="priv-s3cret",
    )
    text = csv_io.csv_export(kind="pdus")
    header = text.splitlines()[0].split(",")
    assert "s3cret" not in text
    assert not {"snmp_read_community", "snmp_v3_auth_key"} & set(header)
    assert "ops" in text  # the v3 user name is not a secret


def test_export_writes_the_given_queryset_only(inventory):
    text = csv_io.csv_export(kind="racks", queryset=Rack.objects.filter(site__slug="other"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["site"], r["name"], r["asset_tag"]) for r in rows] == [("other", "X1", "R-X1")]


# --- Validation: every row, nothing written -------------------------------------------------


RACK_HEADER = "site,name,room,u_height,status"


def test_every_bad_row_is_reported_and_nothing_is_written(site, superuser):
    content = csv_bytes(
        RACK_HEADER,
        f"{site.slug},R1,hall,42,active",
        f"{site.slug},R2,hall,99,active",  # row 3: too tall
        f"{site.slug},R3,hall,42,active",
        "nowhere,R4,hall,42,active",  # row 5: unknown site
        f"{site.slug},R1,hall,42,active",  # row 6: R1 again
        f"{site.slug},R5,hall,forty,bogus",  # row 7: not a number
        f"{site.slug},R6,hall,42,planned",
    )
    audit_before = AuditEntry.objects.count()
    for commit in (False, True):
        result = run(superuser, "racks", content, commit=commit)
        errors = errors_by_row(result)
        assert set(errors) == {3, 5, 6, 7}
        assert errors[3][0][0] == "u_height"
        assert errors[5] == [("site", "No site with slug 'nowhere'.")]
        assert errors[6][0][0] == "name" and "Row 2 already has this rack" in errors[6][0][1]
        assert errors[7][0] == ("u_height", "“forty” value must be an integer.")
        assert not result.committed
        assert not Rack.objects.exists()
        assert AuditEntry.objects.count() == audit_before
    assert [r.action for r in result.rows if not r.errors] == [csv_io.CREATED] * 3


def test_model_rules_are_checked_against_earlier_rows_of_the_same_import(rack, superuser):
    content = csv_bytes(
        "site,name,rack,position_u,u_height",
        f"{rack.site.slug},web1,{rack.name},10,2",
        f"{rack.site.slug},web2,{rack.name},11,1",  # row 3: overlaps web1 (row 2)
        f"{rack.site.slug},web3,,5,1",  # row 4: a position without a rack
    )
    result = run(superuser, "hosts", content, commit=True)
    errors = errors_by_row(result)
    assert set(errors) == {3, 4}
    assert errors[3] == [("position_u", "U11-U11 overlaps host 'web1' at U10-U11.")]
    assert errors[4][0][0] == "position_u"
    assert not Host.objects.exists()


def test_one_import_creates_a_rack_and_the_hosts_in_it(superuser):
    files = [
        ("hosts", csv_bytes("site,name,rack,position_u", "dc1,web1,R9,3")),
        ("racks", csv_bytes("site,name", "dc1,R9")),
        ("sites", csv_bytes("slug,name", "dc1,DC One")),
    ]
    result = csv_io.csv_import(user=superuser, files=files, commit=True)
    assert result.ok, errors_by_row(result)
    host = Host.objects.get(name="web1")
    assert (host.site.slug, host.rack.name, host.position_u) == ("dc1", "R9", 3)


def test_a_confirmed_import_creates_and_updates_by_natural_key_with_audit(rack, superuser):
    factories.make_rack(site=rack.site, name="R2", room="old room")
    content = csv_bytes(
        "site,name,room",
        f"{rack.site.slug},{rack.name},",  # unchanged (room empty already)
        f"{rack.site.slug},R2,new room",  # updated
        f"{rack.site.slug},R3,hall 1",  # created
    )
    preview = run(superuser, "racks", content, commit=False)
    assert [r.action for r in preview.rows] == ["unchanged", "updated", "created"]
    assert preview.counts() == {"created": 1, "updated": 1, "unchanged": 1}
    assert Rack.objects.get(name="R2").room == "old room"  # a preview writes nothing
    assert not Rack.objects.filter(name="R3").exists()

    result = run(superuser, "racks", content, commit=True)

    assert result.committed
    assert Rack.objects.get(name="R2").room == "new room"
    assert Rack.objects.get(name="R3").room == "hall 1"
    assert Rack.objects.get(name=rack.name).u_height == 42  # a column left out is kept
    updated = AuditEntry.objects.get(model="inventory.rack", action="update")
    assert updated.changes["room"] == ["old room", "new room"]
    assert AuditEntry.objects.filter(model="inventory.rack", action="create", object_repr="R3")


def test_a_failure_during_the_write_rolls_back_everything(rack, superuser, monkeypatch):
    calls = []
    real_sync = csv_io.services.pdu_sync_outlets

    def failing_sync(*, pdu):
        calls.append(pdu.name)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        real_sync(pdu=pdu)

    monkeypatch.setattr(csv_io.services, "pdu_sync_outlets", failing_sync)
    content = csv_bytes(
        "site,rack,name,outlet_count,management_host,snmp_read_community",
        f"{rack.site.slug},{rack.name},P1,8,10.0.0.1,public",
        f"{rack.site.slug},{rack.name},P2,8,10.0.0.2,public",
    )
    with pytest.raises(RuntimeError):
        run(superuser, "pdus", content, commit=True)
    assert calls == ["P1", "P2"]
    assert not PDU.objects.exists()
    assert not Outlet.objects.exists()


def test_a_row_the_database_refuses_is_an_error_and_nothing_is_written(
    rack, superuser, monkeypatch
):
    real_save = Rack.save

    def refusing_save(self, *args, **kwargs):
        if self.name == "R-bad":
            raise IntegrityError("duplicate key value violates unique constraint")
        real_save(self, *args, **kwargs)

    monkeypatch.setattr(Rack, "save", refusing_save)
    content = csv_bytes("site,name", f"{rack.site.slug},R-good", f"{rack.site.slug},R-bad")
    result = run(superuser, "racks", content, commit=True)
    assert errors_by_row(result) == {
        3: [("", "The database refused the row: duplicate key value violates unique constraint")]
    }
    assert not result.committed
    assert not Rack.objects.filter(name="R-good").exists()


# --- PDUs and wiring ------------------------------------------------------------------------


PDU_HEADER = "site,rack,name,outlet_count,management_host,feed"


def test_imported_pdus_get_their_outlets_and_write_only_credentials(rack, feeds, superuser):
    feed_a, _ = feeds
    content = csv_bytes(
        f"{PDU_HEADER},snmp_read_community",
        f"{rack.site.slug},{rack.name},P1,8,10.0.0.1,{feed_a.name},c0mmunity",
    )
    assert run(superuser, "pdus", content, commit=True).committed
    pdu = PDU.objects.get(name="P1")
    assert list(pdu.outlets.values_list("number", flat=True)) == list(range(1, 9))
    assert (pdu.feed, pdu.snmp_read_community) == (feed_a, "c0mmunity")

    # Growing the count adds outlets; an empty secret cell keeps the stored community.
    grown = csv_bytes(
        f"{PDU_HEADER},snmp_read_community",
        f"{rack.site.slug},{rack.name},P1,10,10.0.0.1,{feed_a.name},",
    )
    result = run(superuser, "pdus", grown, commit=True)
    assert [r.action for r in result.rows] == ["updated"]
    pdu.refresh_from_db()
    assert (pdu.outlets.count(), pdu.snmp_read_community) == (10, "c0mmunity")


def test_a_pdu_needs_its_credentials_when_created(rack, superuser):
    content = csv_bytes(PDU_HEADER, f"{rack.site.slug},{rack.name},P1,8,10.0.0.1,")
    result = run(superuser, "pdus", content, commit=False)
    assert errors_by_row(result) == {
        2: [("snmp_read_community", "SNMP v2c needs a read community.")]
    }


def test_power_supplies_are_wired_by_pdu_name_and_outlet_number(rack, pdus, superuser):
    host = factories.make_host(rack=rack, name="db1")
    factories.make_supply(host=host, name="PSU2", outlet=None)
    slug = rack.site.slug
    content = csv_bytes(
        "site,host,name,max_draw_w,allocated_draw_w,pdu_rack,pdu,outlet",
        f"{slug},db1,PSU1,750,300,,PDU-A,5",  # the PDU's name is unique at the site
        f"{slug},db1,PSU2,750,300,{rack.name},PDU-B,5",
        f"{slug},db1,PSU3,750,300,,PDU-A,99",  # no such outlet
        f"{slug},db1,PSU4,750,900,,,",  # allocated above maximum
    )
    result = run(superuser, "power_supplies", content, commit=False)
    assert [r.action for r in result.rows[:2]] == ["created", "updated"]
    assert errors_by_row(result) == {
        4: [("outlet", "PDU 'PDU-A' has no outlet '99'.")],
        5: [("allocated_draw_w", "Allocated draw (900 W) cannot exceed the maximum draw (750 W).")],
    }
    fixed = csv_bytes(*csv_bytes_lines(content)[:3])
    assert run(superuser, "power_supplies", fixed, commit=True).committed
    plugged = dict(host.power_supplies.values_list("name", "outlet__pdu__name"))
    assert plugged == {"PSU1": "PDU-A", "PSU2": "PDU-B"}


def test_outlets_are_labelled_and_locked_by_pdu_name_and_number(rack, pdus, superuser):
    slug = rack.site.slug
    content = csv_bytes(
        "site,pdu_rack,pdu,number,label,locked,lock_reason",
        f"{slug},,PDU-A,3,core switch,false,",  # the PDU's name is unique at the site
        f"{slug},{rack.name},PDU-B,4,,true,fragile load",
        f"{slug},,PDU-A,99,x,,",  # outlets follow outlet_count: never created
        f"{slug},,PDU-A,5,,true,",  # a lock needs its reason
        f"{slug},,PDU-A,3,again,,",  # the same outlet twice
        f"{slug},,PDU-Z,1,,,",
    )
    result = run(superuser, "outlets", content, commit=False)
    assert [r.action for r in result.rows[:2]] == ["updated", "updated"]
    assert errors_by_row(result) == {
        4: [
            (
                "number",
                "PDU 'PDU-A' has no outlet '99': its outlets are 1 to 24 (they follow the "
                "PDU's outlet_count).",
            )
        ],
        5: [("lock_reason", "Say why the outlet is locked.")],
        6: [
            (
                "number",
                f"Row 2 already has this outlet (site {slug!r}, pdu_rack '', pdu 'PDU-A', "
                "number '3').",
            )
        ],
        7: [("pdu", f"No PDU 'PDU-Z' at site {slug!r}.")],
    }
    assert not result.committed
    assert not Outlet.objects.filter(locked=True).exists()

    fixed = csv_bytes(*csv_bytes_lines(content)[:3])
    assert run(superuser, "outlets", fixed, commit=True).committed
    outlet_b4 = pdus[1].outlets.get(number=4)
    assert (outlet_b4.locked, outlet_b4.lock_reason) == (True, "fragile load")
    assert pdus[0].outlets.get(number=3).label == "core switch"
    assert Outlet.objects.filter(pdu__in=pdus).count() == 48  # none created


def test_a_technician_labels_outlets_only_at_their_sites(django_user_model, rack, pdus):
    other = factories.make_site(name="B", slug="b")
    elsewhere = factories.make_pdu(rack=factories.make_rack(site=other, name="RB"), name="PB")
    tech = django_user_model.objects.create_user("tech", password="pw-tech-12345")
    factories.grant(tech, "technician", rack.site)
    content = csv_bytes("site,pdu,number,label", f"{rack.site.slug},PDU-A,1,ok", "b,PB,1,no")
    result = run(tech, "outlets", content, commit=True)
    assert errors_by_row(result) == {3: [("site", "You may not change outlets at this site.")]}
    assert not result.committed
    assert not Outlet.objects.exclude(label="").exists()
    assert elsewhere.outlets.get(number=1).label == ""


def csv_bytes_lines(content: bytes) -> list[str]:
    return content.decode().splitlines()


# --- Reading the file -----------------------------------------------------------------------


def test_unknown_and_missing_columns_are_named(site, superuser):
    content = csv_bytes("site,colour,room", f"{site.slug},red,hall")
    with pytest.raises(csv_io.CsvImportError) as raised:
        run(superuser, "racks", content, commit=False)
    message = str(raised.value)
    assert "Unknown column(s): colour." in message
    assert "Missing required column(s): name." in message


def test_a_byte_order_mark_is_accepted(superuser):
    content = "\ufeffslug,name\r\ndc1,DC One\r\n".encode()
    assert run(superuser, "sites", content, commit=True).committed
    assert Site.objects.get(slug="dc1").name == "DC One"


def test_a_file_that_is_not_utf8_is_refused(superuser):
    with pytest.raises(csv_io.CsvImportError, match="not UTF-8"):
        run(superuser, "sites", "slug,name\r\nzürich,Zürich\r\n".encode("latin-1"), commit=False)


def test_an_empty_file_is_refused(superuser):
    with pytest.raises(csv_io.CsvImportError, match="header row"):
        run(superuser, "sites", b"\r\n", commit=False)


def test_oversized_files_are_refused(superuser, monkeypatch):
    content = csv_bytes("slug,name", "dc1,DC One", "dc2,DC Two", "dc3,DC Three")
    monkeypatch.setattr(csv_io, "MAX_FILE_BYTES", len(content) - 1)
    with pytest.raises(csv_io.CsvImportError, match="at most"):
        run(superuser, "sites", content, commit=True)
    monkeypatch.setattr(csv_io, "MAX_FILE_BYTES", len(content))
    monkeypatch.setattr(csv_io, "MAX_ROWS", 2)
    with pytest.raises(csv_io.CsvImportError, match="3 rows; at most 2"):
        run(superuser, "sites", content, commit=True)
    assert not Site.objects.exists()


def test_a_row_with_extra_cells_is_an_error(superuser):
    result = run(superuser, "sites", csv_bytes("slug,name", "dc1,DC One,surplus"), commit=False)
    assert errors_by_row(result) == {2: [("", "The row has 3 cells; the header has 2.")]}


# --- Permissions ----------------------------------------------------------------------------


def test_a_technician_imports_only_at_their_sites(django_user_model):
    site_a = factories.make_site(name="A", slug="a")
    site_b = factories.make_site(name="B", slug="b")
    factories.make_rack(site=site_b, name="RB")
    tech = django_user_model.objects.create_user("tech", password="pw-tech-12345")
    factories.grant(tech, "technician", site_a)
    content = csv_bytes("site,name,room", "a,RA,hall", "b,RB2,hall", "b,RB,changed")
    result = run(tech, "racks", content, commit=True)
    assert errors_by_row(result) == {
        3: [("site", "You may not add racks at this site.")],
        4: [("site", "You may not change racks at this site.")],
    }
    assert not result.committed
    assert list(Rack.objects.values_list("name", flat=True)) == ["RB"]
    assert Rack.objects.get(name="RB").room == ""

    only_a = csv_bytes("site,name,room", "a,RA,hall")
    assert run(tech, "racks", only_a, commit=True).committed
    assert Rack.objects.get(name="RA").site == site_a
    sites = run(tech, "sites", csv_bytes("slug,name", "c,C"), commit=True)
    assert errors_by_row(sites) == {2: [("slug", "You may not add sites.")]}


# --- Preview token --------------------------------------------------------------------------


def test_the_preview_token_carries_the_file_for_its_user_and_kind_only(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    content = b"slug,name,description\r\ndc1,DC,secret-ish\r\n"
    token = csv_io.csv_preview_token(user=alice, kind="sites", content=content)
    assert b"secret-ish" not in token.encode()  # encrypted, not only signed
    assert csv_io.csv_preview_token_open(user=alice, kind="sites", token=token) == content
    for user, kind, bad in ((bob, "sites", token), (alice, "racks", token), (alice, "sites", "x")):
        with pytest.raises(csv_io.CsvImportError):
            csv_io.csv_preview_token_open(user=user, kind=kind, token=bad)


# --- Documentation --------------------------------------------------------------------------


def test_the_inventory_guide_lists_exactly_the_columns_of_the_specs():
    doc = (Path(__file__).parents[2] / "docs" / "inventory.md").read_text()
    found = re.search(r"<!-- csv-columns:start -->\n(.*?)<!-- csv-columns:end -->", doc, re.S)
    assert found, "docs/inventory.md has no csv-columns section"
    assert found.group(1).strip() == csv_io.csv_columns_markdown().strip(), (
        "Regenerate it: python -c 'from inventory.csv_io import csv_columns_markdown as m; "
        "print(m())' (with DJANGO_SETTINGS_MODULE set)"
    )
