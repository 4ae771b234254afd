"""CSV import and export through the REST API (/api/v1/csv/): the admin's export and import
(inventory/csv_io.py) for scripts, with the same permissions, all or nothing, and a clear 4xx
for every bad request with nothing written."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from dcpower.models import AuditEntry
from dcpower.tokens import api_token_create
from inventory import csv_io
from inventory.demo import demo_inventory_load
from inventory.models import Host, Rack, Site
from tests import factories

pytestmark = pytest.mark.django_db

CSV = "/api/v1/csv/"
ADMIN_EXPORT = {
    "sites": "site",
    "racks": "rack",
    "power_feeds": "powerfeed",
    "pdus": "pdu",
    "outlets": "outlet",
    "hosts": "host",
    "power_supplies": "powersupply",
}


def post_csv(client, kind: str, text: str | bytes, query: str = "", content_type="text/csv"):
    body = text.encode() if isinstance(text, str) else text
    return client.generic("POST", f"{CSV}{kind}/{query}", body, content_type=content_type)


def rows_of(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.fixture
def two_sites():
    """Site a with rack A1, site b with rack B1."""
    a = factories.make_site(name="Site A", slug="a")
    b = factories.make_site(name="Site B", slug="b")
    return {
        "a": a,
        "b": b,
        "A1": factories.make_rack(site=a, name="A1"),
        "B1": factories.make_rack(site=b, name="B1"),
    }


@pytest.fixture
def as_role(django_user_model):
    """An API client authenticated by an API token of a user holding ``role`` at ``sites``."""

    def make(role: str, *sites, read_only: bool = False) -> APIClient:
        user = django_user_model.objects.create_user(f"{role}-user", password="pw-role-12345")
        factories.grant(user, role, *sites)
        _, plaintext = api_token_create(user=user, name="script", read_only=read_only)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {plaintext}")
        return client

    return make


# --- The kinds --------------------------------------------------------------------------------


def test_the_kinds_are_csv_io_s_kinds_in_import_order(api):
    response = api.get(CSV)
    assert response.status_code == 200
    body = response.json()
    assert body["max_file_bytes"] == csv_io.MAX_FILE_BYTES
    assert body["max_rows"] == csv_io.MAX_ROWS
    assert [kind["name"] for kind in body["kinds"]] == csv_io.KIND_ORDER == list(csv_io.KINDS)
    for listed in body["kinds"]:
        spec = csv_io.KINDS[listed["name"]]
        assert listed["key_columns"] == list(spec.key_columns)
        assert listed["creates"] is spec.creates
        assert listed["url"] == f"http://testserver{CSV}{spec.name}/"
        assert listed["columns"] == [
            {"name": c.name, "required": c.required, "help": c.help, "write_only": c.secret}
            for c in spec.columns
        ]


# --- Export -----------------------------------------------------------------------------------


def test_the_export_is_the_admin_s_export_all(api, admin_client):
    demo_inventory_load()
    # Two hosts of one name at two sites: the order of their supplies is the tie-break's.
    for site in (Site.objects.first(), factories.make_site(name="Other", slug="other")):
        factories.make_supply(host=factories.make_host(site=site, name="twin"), name="PSU1")
    for kind, model in ADMIN_EXPORT.items():
        response = api.get(f"{CSV}{kind}/")
        assert response.status_code == 200, kind
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"].startswith(f'attachment; filename="dcpower-{kind}-')
        admin = admin_client.get(f"/admin/inventory/{model}/export-csv/")
        assert response.content == admin.content, kind
        assert len(rows_of(response)) == csv_io.KINDS[kind].model.objects.count() > 0, kind


def test_an_export_leaves_credentials_out(api, pdus):
    text = api.get(f"{CSV}pdus/").content.decode()
    assert "snmp_read_community" not in text
    assert "public" not in text
    assert {row["name"] for row in rows_of(api.get(f"{CSV}pdus/"))} == {"PDU-A", "PDU-B"}


def test_a_client_that_accepts_only_csv_gets_the_file(api, rack):
    response = api.get(f"{CSV}racks/", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert [row["name"] for row in rows_of(response)] == [rack.name]


def test_an_unknown_kind_is_a_404_naming_the_kinds(api, site):
    for response in (api.get(f"{CSV}rackz/"), post_csv(api, "rackz", "site,name\n")):
        assert response.status_code == 404
        detail = response.json()["detail"]
        assert "'rackz'" in detail
        assert ", ".join(csv_io.KINDS) in detail
    assert list(Site.objects.all()) == [site]


def test_an_unknown_query_parameter_is_refused(api, site):
    response = api.get(f"{CSV}racks/?site=a")
    assert response.status_code == 400
    assert response.json() == {"site": ["Unknown query parameter."]}
    refused = post_csv(api, "racks", f"site,name\n{site.slug},R9\n", "?dryrun=true")
    assert refused.status_code == 400
    assert "dryrun" in refused.json()
    assert not Rack.objects.exists()


# --- Import -----------------------------------------------------------------------------------


def test_exporting_and_importing_the_same_files_changes_nothing(api):
    demo_inventory_load()
    audited = AuditEntry.objects.count()
    for kind in csv_io.KINDS:
        exported = api.get(f"{CSV}{kind}/").content
        response = post_csv(api, kind, exported)
        assert response.status_code == 200, (kind, response.json()["errors"][:3])
        body = response.json()
        assert body["committed"] is True
        assert body["counts"] == {"created": 0, "updated": 0, "unchanged": len(body["rows"])}
        assert len(body["rows"]) == csv_io.KINDS[kind].model.objects.count() > 0
    assert AuditEntry.objects.count() == audited


def test_an_import_creates_and_updates(api, admin_user, site, rack):
    text = (
        "site,name,room,u_height\n"
        f"{site.slug},{rack.name},1.05,{rack.u_height}\n"  # updated: the room
        f"{site.slug},R-new,2.01,48\n"  # created
    )
    response = post_csv(api, "racks", text)
    assert response.status_code == 200
    body = response.json()
    assert body["committed"] is True and body["dry_run"] is False
    assert body["counts"] == {"created": 1, "updated": 1, "unchanged": 0}
    assert body["rows"] == [
        {
            "kind": "racks",
            "row": 2,
            "action": "updated",
            "key": {"site": site.slug, "name": rack.name},
            "errors": [],
        },
        {
            "kind": "racks",
            "row": 3,
            "action": "created",
            "key": {"site": site.slug, "name": "R-new"},
            "errors": [],
        },
    ]
    assert body["errors"] == []
    assert body["detail"] == "Imported 2 row(s): 1 created, 1 updated, 0 unchanged."
    rack.refresh_from_db()
    assert rack.room == "1.05"
    new = Rack.objects.get(site=site, name="R-new")
    assert (new.room, new.u_height) == ("2.01", 48)
    # The service's audit trail, under the API's user.
    created = AuditEntry.objects.get(model="inventory.rack", object_id=str(new.pk))
    assert created.user == admin_user


def test_a_dry_run_writes_nothing(api, site, rack):
    text = f"site,name,room\n{site.slug},{rack.name},9.99\n{site.slug},R-new,\n"
    audited = AuditEntry.objects.count()
    response = post_csv(api, "racks", text, "?dry_run=true")
    assert response.status_code == 200
    body = response.json()
    assert (body["committed"], body["dry_run"]) == (False, True)
    assert body["counts"] == {"created": 1, "updated": 1, "unchanged": 0}
    assert body["detail"].startswith("Dry run, nothing written")
    assert list(Rack.objects.all()) == [rack]
    rack.refresh_from_db()
    assert rack.room != "9.99"
    assert AuditEntry.objects.count() == audited


def test_dry_run_must_be_true_or_false(api, site):
    response = post_csv(api, "racks", f"site,name\n{site.slug},R1\n", "?dry_run=maybe")
    assert response.status_code == 400
    assert response.json() == {"dry_run": ["true or false."]}
    assert not Rack.objects.exists()


def test_a_row_error_is_a_400_with_every_error_and_nothing_written(api, site):
    text = (
        "site,name,u_height\n"
        f"{site.slug},R-ok,42\n"  # valid, before the bad rows: not written either
        f"{site.slug},R-bad,tall\n"
        f"nowhere,R-lost,42\n"
    )
    response = post_csv(api, "racks", text)
    assert response.status_code == 400
    body = response.json()
    assert body["committed"] is False
    assert body["detail"] == "2 error(s) in 2 row(s): nothing was written."
    errors = {(e["row"], e["column"]): e["message"] for e in body["errors"]}
    assert set(errors) == {(3, "u_height"), (4, "site")}
    assert "tall" in errors[(3, "u_height")]
    assert errors[(4, "site")] == "No site with slug 'nowhere'."
    assert [row["action"] for row in body["rows"]] == ["created", None, None]
    assert body["rows"][1]["errors"] == [
        {"kind": "racks", "row": 3, "column": "u_height", "message": errors[(3, "u_height")]}
    ]
    assert not Rack.objects.exists()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"site,name,colour\na,R1,red\n", "Unknown column(s): colour."),
        (b"site\na\n", "Missing required column(s): name."),
        (b"site,name\na,R\xe91\n", "The file is not UTF-8 text"),
        (b"", "The file is empty"),
    ],
)
def test_an_unreadable_file_is_a_400_naming_the_problem(api, site, body, problem):
    response = post_csv(api, "racks", body)
    assert response.status_code == 400
    assert problem in response.json()["detail"]
    assert not Rack.objects.exists()


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", ""])
def test_a_body_that_is_not_csv_is_a_415(api, site, content_type):
    response = post_csv(api, "racks", f"site,name\n{site.slug},R1\n", content_type=content_type)
    assert response.status_code == 415
    assert "Unsupported media type" in response.json()["detail"]
    assert not Rack.objects.exists()


def test_a_file_over_the_limit_is_a_413(api, site):
    row = f"{site.slug},R1,{'x' * 200}\n"
    body = "site,name,description\n" + row * (csv_io.MAX_FILE_BYTES // len(row) + 1)
    response = post_csv(api, "racks", body)
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert detail == csv_io.csv_too_large_message(len(body.encode()))
    assert f"at most {csv_io.MAX_FILE_BYTES:,}" in detail
    assert not Rack.objects.exists()


# --- Who may ----------------------------------------------------------------------------------


def test_anonymous_callers_get_401(anon, site):
    assert anon.get(CSV).status_code == 401
    assert anon.get(f"{CSV}sites/").status_code == 401
    response = post_csv(anon, "sites", "slug,name\nnew,New\n")
    assert response.status_code == 401
    assert list(Site.objects.all()) == [site]


def test_a_read_only_token_exports_and_cannot_import(as_role, site):
    client = as_role("admin", read_only=True)
    assert client.get(f"{CSV}sites/").status_code == 200
    response = post_csv(client, "sites", "slug,name\nnew,New\n")
    assert response.status_code == 403
    assert response.json()["detail"] == "This API token is read-only."
    assert list(Site.objects.all()) == [site]


def test_a_viewer_exports_and_cannot_import(as_role, rack):
    viewer = as_role("viewer")
    assert viewer.get(CSV).status_code == 200
    assert [row["name"] for row in rows_of(viewer.get(f"{CSV}racks/"))] == [rack.name]
    response = post_csv(viewer, "racks", f"site,name\n{rack.site.slug},R-new\n")
    assert response.status_code == 403
    assert response.json()["detail"] == "You may not import racks as CSV."
    assert list(Rack.objects.all()) == [rack]


def test_a_technician_imports_only_at_their_site(as_role, two_sites):
    tech = as_role("technician", two_sites["a"])
    refused = post_csv(tech, "racks", "site,name,room\na,A2,1\nb,B2,1\nb,B1,2\n")
    assert refused.status_code == 400
    errors = refused.json()["errors"]
    assert [(e["row"], e["column"], e["message"]) for e in errors] == [
        (3, "site", "You may not add racks at this site."),
        (4, "site", "You may not change racks at this site."),
    ]
    assert set(Rack.objects.values_list("name", flat=True)) == {"A1", "B1"}
    assert Rack.objects.get(name="B1").room == ""
    accepted = post_csv(tech, "racks", "site,name,room\na,A2,1\n")
    assert accepted.status_code == 200
    assert Rack.objects.get(site=two_sites["a"], name="A2").room == "1"


def test_a_technician_cannot_import_sites(as_role, two_sites):
    response = post_csv(as_role("technician", two_sites["a"]), "sites", "slug,name\nc,Site C\n")
    assert response.status_code == 403
    assert response.json()["detail"] == "You may not import sites as CSV."
    assert Site.objects.count() == 2


def test_a_technician_s_export_is_the_admin_s_reading_is_not_scoped(
    as_role, two_sites, client, django_user_model
):
    """The admin's rule (docs/security.md, "Reading is never scoped"): a technician of site a
    exports site b's racks too, exactly as the admin's Export all gives them."""
    exported = as_role("technician", two_sites["a"]).get(f"{CSV}racks/")
    assert exported.status_code == 200
    assert [(r["site"], r["name"]) for r in rows_of(exported)] == [("a", "A1"), ("b", "B1")]
    staff = django_user_model.objects.create_user("staff", password="pw-staff-123", is_staff=True)
    factories.grant(staff, "technician", two_sites["a"])
    client.force_login(staff)
    assert client.get("/admin/inventory/rack/export-csv/").content == exported.content


def test_a_user_with_no_role_may_not_export(as_role, django_user_model, site):
    nobody = APIClient()
    nobody.force_authenticate(django_user_model.objects.create_user("nobody"))
    for path in (CSV, f"{CSV}sites/", f"{CSV}unknown/"):
        response = nobody.get(path)
        assert response.status_code == 403, path
    assert nobody.get(f"{CSV}sites/").json()["detail"] == "You may not export sites as CSV."


# --- Several kinds in one request -------------------------------------------------------------


def files(**texts: str) -> dict:
    return {
        kind: SimpleUploadedFile(f"{kind}.csv", text.encode(), content_type="text/csv")
        for kind, text in texts.items()
    }


def test_several_kinds_are_imported_together_in_dependency_order(api):
    # Given hosts first: they are imported after the site and the rack they name.
    response = api.post(
        CSV,
        files(
            hosts="site,name,rack,position_u\nnew,web01,R1,10\n",
            racks="site,name\nnew,R1\n",
            sites="slug,name\nnew,New site\n",
        ),
        format="multipart",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [(row["kind"], row["action"]) for row in body["rows"]] == [
        ("sites", "created"),
        ("racks", "created"),
        ("hosts", "created"),
    ]
    host = Host.objects.get(name="web01")
    assert (host.site.slug, host.rack.name, host.position_u) == ("new", "R1", 10)


def test_several_kinds_are_all_or_nothing(api):
    response = api.post(
        CSV,
        files(sites="slug,name\nnew,New site\n", racks="site,name,u_height\nnew,R1,99\n"),
        format="multipart",
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert (error["kind"], error["row"], error["column"]) == ("racks", 2, "u_height")
    assert not Site.objects.exists()


def test_several_kinds_dry_run(api):
    response = api.post(
        f"{CSV}?dry_run=true", files(sites="slug,name\nnew,New site\n"), format="multipart"
    )
    assert response.status_code == 200
    assert response.json()["counts"]["created"] == 1
    assert not Site.objects.exists()


def test_several_kinds_refuse_unknown_fields_and_unreadable_files(api):
    unknown = api.post(CSV, {**files(rackz="site,name\n"), "note": "x"}, format="multipart")
    assert unknown.status_code == 400
    body = unknown.json()
    assert "No CSV kind 'rackz'" in body["rackz"][0]
    assert body["note"] == ["Not a file: send each kind's CSV as a file."]
    empty = api.post(CSV, {}, format="multipart")
    assert empty.status_code == 400
    assert "No file" in empty.json()["non_field_errors"][0]
    unreadable = api.post(
        CSV, files(sites="slug,name\nnew,New\n", racks="site,colour\n"), format="multipart"
    )
    assert unreadable.status_code == 400
    assert "Unknown column(s): colour." in unreadable.json()["racks"][0]
    assert not Site.objects.exists()


def test_several_kinds_need_import_permission_for_each(as_role, two_sites):
    tech = as_role("technician", two_sites["a"])
    response = tech.post(
        CSV, files(sites="slug,name\nc,C\n", racks="site,name\na,A2\n"), format="multipart"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "You may not import sites as CSV."
    assert Site.objects.count() == 2 and Rack.objects.count() == 2


def test_several_kinds_refuse_a_file_over_the_limit(api):
    big = "slug,name\n" + "x" * csv_io.MAX_FILE_BYTES
    response = api.post(CSV, files(sites=big), format="multipart")
    assert response.status_code == 413
    assert response.json()["detail"].startswith("sites: The file is")
    assert not Site.objects.exists()


def test_a_json_body_for_several_kinds_is_a_415(api):
    response = api.post(CSV, {"sites": "slug,name\n"}, format="json")
    assert response.status_code == 415
    assert not Site.objects.exists()
