"""CSV import and export in the admin (inventory/admin_csv.py): upload, preview, confirm,
export of selected rows and of the filtered list, and who may do which."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dcpower.models import AuditEntry
from inventory import csv_io
from inventory.models import Host, Rack
from tests import factories

pytestmark = pytest.mark.django_db

IMPORT = "/admin/inventory/{}/import-csv/"


def upload(client, model: str, text: str):
    file = SimpleUploadedFile("import.csv", text.encode(), content_type="text/csv")
    return client.post(IMPORT.format(model), {"file": file})


def token_of(response) -> str:
    found = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert found, "the preview offers no confirmation"
    return found.group(1)


def rows_of(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.fixture
def tech(django_user_model, client):
    """A technician of site "a", logged in to the admin."""

    def login(*sites):
        user = django_user_model.objects.create_user("tech", password="pw-tech-12345")
        user.is_staff = True
        user.save()
        factories.grant(user, "technician", *sites)
        client.force_login(user)
        return client

    return login


def test_the_changelists_link_to_import_and_export(admin_client, rack, pdus):
    factories.make_supply(host=factories.make_host(rack=rack))
    for model in ("site", "rack", "powerfeed", "pdu", "outlet", "host", "powersupply"):
        page = admin_client.get(f"/admin/inventory/{model}/?q=x").content.decode()
        assert f'href="/admin/inventory/{model}/import-csv/" id="import-csv"' in page, model
        assert f'href="/admin/inventory/{model}/export-csv/?q=x" id="export-csv"' in page, model
        page = admin_client.get(f"/admin/inventory/{model}/").content.decode()
        assert 'value="export_csv"' in page, model


def test_a_preview_shows_every_bad_row_and_offers_no_confirmation(admin_client, site):
    response = upload(
        admin_client,
        "rack",
        f"site,name,u_height\n{site.slug},R1,42\n{site.slug},R2,99\n{site.slug},R3,\nx,R4,1\n",
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="csv-preview"' in page
    assert re.search(r'data-row="2" data-action="created" class="ok"', page)
    assert re.search(r'data-row="3" data-action="" class="error"', page)
    assert re.search(r'data-row="4" data-action="created" class="ok"', page)  # empty: default
    assert re.search(r'data-row="5" data-action="" class="error"', page)
    assert "u_height: Ensure this value is less than or equal to 60." in page
    assert "site: No site with slug &#x27;x&#x27;." in page
    assert 'id="confirm-import"' not in page
    assert not Rack.objects.exists()


def test_confirming_a_preview_writes_every_row_with_audit(admin_client, site):
    factories.make_rack(site=site, name="R1", room="old")
    text = f"site,name,room\n{site.slug},R1,new\n{site.slug},R2,hall\n"
    preview = upload(admin_client, "rack", text)
    page = preview.content.decode()
    assert 'id="confirm-import"' in page
    assert 'data-row="2" data-action="updated" class="ok"' in page
    assert Rack.objects.get(name="R1").room == "old"  # the preview wrote nothing
    assert not Rack.objects.filter(name="R2").exists()

    done = admin_client.post(IMPORT.format("rack"), {"token": token_of(preview)}, follow=True)

    assert done.redirect_chain[-1][0] == "/admin/inventory/rack/"
    assert "Imported 2 row(s): 1 created, 1 updated, 0 unchanged." in done.content.decode()
    assert Rack.objects.get(name="R1").room == "new"
    assert Rack.objects.get(name="R2").room == "hall"
    audited = AuditEntry.objects.filter(model="inventory.rack", username="root")
    assert set(audited.values_list("action", "object_repr")) == {("update", "R1"), ("create", "R2")}


def test_the_confirmation_validates_the_file_again(admin_client, rack):
    preview = upload(
        admin_client, "host", f"site,name,rack,position_u\n{rack.site.slug},h1,{rack.name},5\n"
    )
    factories.make_host(rack=rack, name="h0", position_u=5)  # meanwhile, in those units
    response = admin_client.post(IMPORT.format("host"), {"token": token_of(preview)})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-row="2" data-action="" class="error"' in page
    assert "overlaps host &#x27;h0&#x27;" in page
    assert not Host.objects.filter(name="h1").exists()


def test_a_tampered_confirmation_is_refused(admin_client, site):
    response = admin_client.post(IMPORT.format("site"), {"token": "not-a-token"})
    assert 'id="csv-file-errors"' in response.content.decode()
    assert "upload the file again" in response.content.decode()


def test_a_file_with_unknown_columns_or_too_big_is_refused_whole(admin_client, site, monkeypatch):
    page = upload(admin_client, "site", "slug,name,colour\nx,X,red\n").content.decode()
    assert 'id="csv-file-errors"' in page and "Unknown column(s): colour." in page
    monkeypatch.setattr(csv_io, "MAX_FILE_BYTES", 10)
    page = upload(admin_client, "site", "slug,name\nx,X\n").content.decode()
    assert "at most 10 are accepted" in page
    assert 'id="csv-preview"' not in page


def test_export_selected_rows_with_the_admin_action(admin_client, site):
    r1, _, r3 = (factories.make_rack(site=site, name=n) for n in ("R1", "R2", "R3"))
    response = admin_client.post(
        "/admin/inventory/rack/",
        {"action": "export_csv", "_selected_action": [r1.pk, r3.pk]},
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert [(r["site"], r["name"]) for r in rows_of(response)] == [
        (site.slug, "R1"),
        (site.slug, "R3"),
    ]


def test_export_all_follows_the_changelists_filters(admin_client, rack, pdus):
    other = factories.make_site(slug="other")
    factories.make_pdu(rack=factories.make_rack(site=other, name="X1"), name="PX")
    everything = rows_of(admin_client.get("/admin/inventory/pdu/export-csv/"))
    assert {r["name"] for r in everything} == {"PDU-A", "PDU-B", "PX"}
    filtered = admin_client.get(
        f"/admin/inventory/pdu/export-csv/?rack__site__id__exact={other.pk}"
    )
    assert [r["name"] for r in rows_of(filtered)] == ["PX"]
    searched = admin_client.get("/admin/inventory/pdu/export-csv/?q=PDU-B")
    assert [r["name"] for r in rows_of(searched)] == ["PDU-B"]
    assert "snmp_read_community" not in filtered.content.decode()


def test_a_technician_cannot_import_rows_of_another_site(tech):
    site_a = factories.make_site(slug="a")
    factories.make_site(slug="b")
    client = tech(site_a)
    page = upload(client, "rack", "site,name\na,RA\nb,RB\n").content.decode()
    assert 'data-row="2" data-action="created" class="ok"' in page
    assert 'data-row="3" data-action="" class="error"' in page
    assert "site: You may not add racks at this site." in page
    assert 'id="confirm-import"' not in page
    assert not Rack.objects.exists()
    # Their own site's rows alone are imported.
    preview = upload(client, "rack", "site,name\na,RA\n")
    client.post(IMPORT.format("rack"), {"token": token_of(preview)})
    assert list(Rack.objects.values_list("site__slug", "name")) == [("a", "RA")]


def test_a_confirmation_belongs_to_the_user_who_previewed(admin_client, tech, site):
    preview = upload(admin_client, "rack", f"site,name\n{site.slug},R1\n")
    other = tech()  # a technician of every site, with another user's preview
    page = other.post(IMPORT.format("rack"), {"token": token_of(preview)}).content.decode()
    assert "another import" in page
    assert not Rack.objects.exists()


def test_import_needs_add_or_change_and_export_needs_view(django_user_model, client, site):
    viewer = django_user_model.objects.create_user("viewer", password="pw-viewer-12345")
    viewer.is_staff = True
    viewer.save()
    factories.grant(viewer, "viewer")
    client.force_login(viewer)
    assert client.get(IMPORT.format("rack")).status_code == 403
    assert upload(client, "rack", f"site,name\n{site.slug},R1\n").status_code == 403
    assert 'id="import-csv"' not in client.get("/admin/inventory/rack/").content.decode()
    assert client.get("/admin/inventory/rack/export-csv/").status_code == 200

    nobody = django_user_model.objects.create_user("nobody", password="pw-nobody-12345")
    nobody.is_staff = True
    nobody.save()
    client.force_login(nobody)
    assert client.get("/admin/inventory/rack/export-csv/").status_code == 403
