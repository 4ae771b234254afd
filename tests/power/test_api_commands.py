"""The power command REST API: requests are checked against the guardrails and persisted before
anything touches a device (the worker is only queued after commit), dry runs persist nothing,
idempotency keys return the same command, pending commands can be cancelled, and the history
is filterable at a fixed number of queries.

No device is contacted here: the enqueue callback that ``transaction.on_commit`` registers is
captured and never run (tests/power/test_worker_e2e.py runs commands on a real worker)."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from inventory.models import Outlet
from power.choices import CommandStatus, OutletOutcome
from power.models import PowerCommand, PowerCommandOutlet
from power.services import power_command_cancel, power_command_request
from tests import factories

pytestmark = pytest.mark.django_db

API = "/api/v1"
COMMANDS = f"{API}/power/commands/"


@pytest.fixture
def dc(rack, pdus):
    """web01 (active) on outlet 1 of both PDUs, db01 (active, protected) on outlet 2 of both;
    every outlet last seen on."""
    pdu_a, pdu_b = pdus
    web = factories.make_dual_psu_host(rack=rack, pdu_a=pdu_a, pdu_b=pdu_b, outlet=1, name="web01")
    db = factories.make_dual_psu_host(
        rack=rack, pdu_a=pdu_a, pdu_b=pdu_b, outlet=2, name="db01", protected=True
    )
    Outlet.objects.update(state="on")
    return {"a": pdu_a, "b": pdu_b, "web": web, "db": db, "rack": rack}


def outlet(pdu, number) -> Outlet:
    return pdu.outlets.get(number=number)


def post(client, body, url=COMMANDS, **headers):
    return client.post(url, body, format="json", headers=headers)


def codes(response) -> list[str]:
    return [refusal["code"] for refusal in response.data["refusals"]]


def nothing_persisted() -> bool:
    return not PowerCommand.objects.exists() and not PowerCommandOutlet.objects.exists()


# --- Authentication and permissions ------------------------------------------------------


def test_anonymous_requests_get_401(anon, dc):
    target = outlet(dc["a"], 5).pk
    assert anon.get(COMMANDS).status_code == 401
    assert post(anon, {"action": "on", "outlets": [target]}).status_code == 401
    assert post(anon, {}, url=f"{API}/outlets/{target}/power/on/").status_code == 401
    assert nothing_persisted()


def test_a_viewer_may_read_but_not_command(anon, django_user_model, dc):
    reader = django_user_model.objects.create_user("reader", password="pw-reader-123")
    factories.grant(reader, "viewer")
    anon.force_authenticate(reader)
    target = outlet(dc["a"], 5).pk
    assert anon.get(COMMANDS).status_code == 200
    assert post(anon, {"action": "on", "outlets": [target]}).status_code == 403
    assert post(anon, {}, url=f"{API}/outlets/{target}/power/on/").status_code == 403
    assert post(anon, {}, url=f"{API}/hosts/{dc['web'].pk}/power/on/").status_code == 403
    assert nothing_persisted()


def test_the_add_permission_alone_is_enough_to_command(anon, django_user_model, dc):
    operator = django_user_model.objects.create_user("operator", password="pw-operator-123")
    operator.user_permissions.add(Permission.objects.get(codename="add_powercommand"))
    anon.force_authenticate(operator)
    response = post(anon, {"action": "on", "outlets": [outlet(dc["a"], 5).pk]})
    assert response.status_code == 202, response.data
    assert response.data["requested_by"] == "operator"


# --- Creating a command ------------------------------------------------------------------


def test_a_command_is_persisted_and_queued_only_after_commit(
    api, dc, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(
            api,
            {"action": "cycle", "hosts": [dc["web"].pk], "reason": "kernel hang", "force": True},
        )
    assert response.status_code == 202, response.data
    body = response.data
    assert body["status"] == CommandStatus.PENDING
    assert body["action"] == "cycle"
    assert body["reason"] == "kernel hang" and body["force"] is True
    assert body["requested_by"] == "root"
    assert body["site"]["id"] == dc["rack"].site_id
    assert body["url"].endswith(f"{COMMANDS}{body['id']}/")
    assert body["targets"] == {"outlets": [], "hosts": [dc["web"].pk], "racks": []}
    assert body["started_at"] is None and body["finished_at"] is None
    # One result row per outlet, untouched: nothing has been sent to a device yet.
    assert sorted((r["outlet"]["id"], r["outlet"]["number"]) for r in body["results"]) == sorted(
        (outlet(pdu, 1).pk, 1) for pdu in (dc["a"], dc["b"])
    )
    assert {
        (r["outcome"], r["step"], r["state_before"], r["state_after"], r["attempts"])
        for r in body["results"]
    } == {(OutletOutcome.PENDING, "pending", "", "", 0)}
    radius = body["blast_radius"]
    assert [h["name"] for h in radius["hosts_losing_all_power"]] == ["web01"]
    assert [p["name"] for p in radius["pdus"]] == ["PDU-A", "PDU-B"]
    assert {(o["pdu"], o["number"]) for o in radius["outlets"]} == {("PDU-A", 1), ("PDU-B", 1)}
    # Persisted in the request's transaction, with the worker queued only once it commits.
    command = PowerCommand.objects.get(pk=body["id"])
    assert command.status == CommandStatus.PENDING
    assert command.outlets.filter(active=True).count() == 2
    (callback,) = callbacks  # registered, deliberately not run: no worker, no device
    assert "power_command_enqueue" in callback.__code__.co_names
    assert (
        dict(zip(callback.__code__.co_freevars, callback.__closure__, strict=True))[
            "command"
        ].cell_contents
        == command
    )


def test_a_command_response_matches_the_schema(api, dc):
    schema = api.get(f"{API}/schema/?format=json").json()
    response = post(api, {"action": "on", "racks": [dc["rack"].pk]})
    assert response.status_code == 202, response.data
    assert len(response.data["results"]) == 48
    root = {"$ref": "#/components/schemas/PowerCommand", "components": schema["components"]}
    OAS30Validator(root).validate(response.json())


def test_an_idempotency_key_returns_the_same_command(api, dc):
    body = {"action": "off", "outlets": [outlet(dc["a"], 5).pk], "reason": "rewiring"}
    first = post(api, body, **{"Idempotency-Key": "ticket-42-off"})
    assert first.status_code == 202, first.data
    again = post(api, body, **{"Idempotency-Key": "ticket-42-off"})
    assert again.status_code == 200, again.data
    assert again.data["id"] == first.data["id"]
    assert again.data["idempotency_key"] == "ticket-42-off"
    assert PowerCommand.objects.count() == 1
    assert PowerCommandOutlet.objects.count() == 1
    # Another key is another request: the outlet is now busy with the first command.
    other = post(api, body, **{"Idempotency-Key": "ticket-43-off"})
    assert other.status_code == 409
    assert other.data["command"] == first.data["id"]


def test_an_idempotency_key_belongs_to_its_user(api, anon, django_user_model, dc):
    operator = django_user_model.objects.create_user("operator", password="pw-operator-123")
    operator.user_permissions.add(Permission.objects.get(codename="add_powercommand"))
    anon.force_authenticate(operator)
    mine = post(
        api, {"action": "on", "outlets": [outlet(dc["a"], 5).pk]}, **{"Idempotency-Key": "k"}
    )
    theirs = post(
        anon, {"action": "on", "outlets": [outlet(dc["a"], 6).pk]}, **{"Idempotency-Key": "k"}
    )
    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.data["id"] != theirs.data["id"]


def test_an_overlong_idempotency_key_is_refused(api, dc):
    response = post(
        api, {"action": "on", "outlets": [outlet(dc["a"], 5).pk]}, **{"Idempotency-Key": "k" * 201}
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.data
    assert nothing_persisted()


def test_a_dry_run_shows_the_blast_radius_and_refusals_and_persists_nothing(
    api, dc, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(api, {"action": "off", "hosts": [dc["web"].pk], "dry_run": True})
    assert response.status_code == 200, response.data
    assert response.data["dry_run"] is True and response.data["action"] == "off"
    radius = response.data["blast_radius"]
    assert [h["name"] for h in radius["hosts_losing_all_power"]] == ["web01"]
    assert [h["name"] for h in radius["active_hosts_affected"]] == ["web01"]
    assert codes(response) == ["reason_required", "last_live_supply"]
    assert nothing_persisted()
    assert callbacks == []


def test_a_dry_run_that_would_pass_has_no_refusals(api, dc):
    response = post(
        api, {"action": "off", "outlets": [outlet(dc["a"], 1).pk], "dry_run": True, "reason": "x"}
    )
    assert response.status_code == 200, response.data
    assert response.data["refusals"] == []
    assert [h["name"] for h in response.data["blast_radius"]["hosts_losing_redundancy"]] == [
        "web01"
    ]
    assert nothing_persisted()


def test_a_dry_run_with_a_used_idempotency_key_is_still_a_dry_run(api, dc):
    body = {"action": "on", "outlets": [outlet(dc["a"], 5).pk]}
    first = post(api, body, **{"Idempotency-Key": "k1"})
    assert first.status_code == 202
    response = post(api, {**body, "dry_run": True}, **{"Idempotency-Key": "k1"})
    assert response.status_code == 200, response.data
    assert response.data["dry_run"] is True
    assert PowerCommand.objects.count() == 1


# --- Guardrails --------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["off", "cycle"])
def test_cutting_power_requires_a_reason(api, dc, action):
    response = post(api, {"action": action, "outlets": [outlet(dc["a"], 5).pk]})
    assert response.status_code == 409, response.data
    assert codes(response) == ["reason_required"]
    assert response.data["refusals"][0]["overridable"] is False
    assert nothing_persisted()
    blank = post(api, {"action": action, "outlets": [outlet(dc["a"], 5).pk], "reason": "  "})
    assert codes(blank) == ["reason_required"]


def test_switching_on_needs_no_reason(api, dc):
    response = post(api, {"action": "on", "outlets": [outlet(dc["a"], 5).pk]})
    assert response.status_code == 202, response.data
    assert response.data["reason"] == ""


def test_a_protected_host_is_refused_with_its_blast_radius_until_forced(api, dc):
    body = {"action": "off", "hosts": [dc["db"].pk], "reason": "replace PSU"}
    refused = post(api, body)
    assert refused.status_code == 409, refused.data
    assert codes(refused) == ["protected_host"]
    assert refused.data["refusals"][0]["overridable"] is True
    assert "db01" in refused.data["detail"]
    radius = refused.data["blast_radius"]
    assert [h["name"] for h in radius["protected_hosts_affected"]] == ["db01"]
    assert [h["name"] for h in radius["hosts_losing_all_power"]] == ["db01"]
    assert nothing_persisted()
    forced = post(api, {**body, "force": True})
    assert forced.status_code == 202, forced.data
    assert forced.data["force"] is True


def test_force_still_needs_a_reason(api, dc):
    response = post(api, {"action": "off", "hosts": [dc["db"].pk], "force": True})
    assert response.status_code == 409
    assert codes(response) == ["reason_required"]
    assert nothing_persisted()


def test_an_active_hosts_last_live_supply_is_refused(api, dc):
    response = post(api, {"action": "cycle", "hosts": [dc["web"].pk], "reason": "hung"})
    assert response.status_code == 409, response.data
    assert codes(response) == ["last_live_supply"]
    assert "web01" in response.data["refusals"][0]["message"]
    assert nothing_persisted()
    # One side only leaves the other supply live: redundancy lost, no refusal.
    one_side = post(api, {"action": "off", "outlets": [outlet(dc["a"], 1).pk], "reason": "x"})
    assert one_side.status_code == 202, one_side.data


def test_a_locked_outlet_is_refused_even_with_force(api, dc):
    locked = outlet(dc["a"], 5)
    locked.locked, locked.lock_reason = True, "fragile load"
    locked.save()
    for action in ("on", "off", "cycle"):
        response = post(
            api, {"action": action, "outlets": [locked.pk], "force": True, "reason": "please"}
        )
        assert response.status_code == 409, response.data
        assert codes(response) == ["locked_outlet"]
        assert "fragile load" in response.data["detail"]
        assert response.data["blast_radius"]["locked_outlets"][0]["id"] == locked.pk
    assert nothing_persisted()


def test_a_second_command_on_a_busy_outlet_names_the_first(api, dc):
    target = outlet(dc["a"], 6).pk
    first = post(api, {"action": "off", "outlets": [target], "reason": "rewiring"})
    assert first.status_code == 202
    second = post(api, {"action": "on", "outlets": [target, outlet(dc["a"], 7).pk]})
    assert second.status_code == 409, second.data
    assert second.data["command"] == first.data["id"]
    assert f"command #{first.data['id']}" in second.data["detail"]
    assert "PDU-A:6" in second.data["detail"]
    assert PowerCommand.objects.count() == 1
    assert PowerCommandOutlet.objects.count() == 1  # the second command left no rows


# --- Validation --------------------------------------------------------------------------


def test_targets_spanning_two_sites_are_refused(api, dc):
    other_rack = factories.make_rack()
    other_pdu = factories.make_pdu(rack=other_rack, outlet_count=4)
    response = post(
        api, {"action": "on", "outlets": [outlet(dc["a"], 5).pk, outlet(other_pdu, 1).pk]}
    )
    assert response.status_code == 400, response.data
    assert "outlets" in response.data
    assert "several sites" in str(response.data["outlets"])
    assert nothing_persisted()


@pytest.mark.parametrize("field", ["outlets", "hosts", "racks"])
def test_unknown_ids_name_the_field(api, dc, field):
    response = post(api, {"action": "on", field: [999999]})
    assert response.status_code == 400, response.data
    assert list(response.data) == [field]
    assert "999999" in str(response.data[field])
    assert nothing_persisted()


def test_a_request_naming_no_target_is_refused(api, dc):
    response = post(api, {"action": "on"})
    assert response.status_code == 400
    assert "outlets" in response.data


def test_a_host_plugged_into_nothing_is_refused(api, dc):
    lonely = factories.make_host(rack=dc["rack"], name="lonely")
    response = post(api, {}, url=f"{API}/hosts/{lonely.pk}/power/on/")
    assert response.status_code == 400
    assert "lonely" in str(response.data["hosts"])


def test_an_unknown_body_field_is_refused(api, dc):
    response = post(api, {"action": "on", "outlets": [outlet(dc["a"], 5).pk], "forse": True})
    assert response.status_code == 400
    assert response.data == {"forse": ["Unknown field."]}
    assert nothing_persisted()


@pytest.mark.parametrize("action", ["reboot", "", None, "ON"])
def test_a_bad_action_is_refused(api, dc, action):
    response = post(api, {"action": action, "outlets": [outlet(dc["a"], 5).pk]})
    assert response.status_code == 400
    assert "action" in response.data
    assert nothing_persisted()


def test_a_missing_action_is_refused(api, dc):
    response = post(api, {"outlets": [outlet(dc["a"], 5).pk]})
    assert response.status_code == 400
    assert "action" in response.data


def test_a_not_before_in_the_future_is_stored(api, dc):
    later = timezone.now() + timedelta(hours=2)
    response = post(
        api,
        {"action": "on", "outlets": [outlet(dc["a"], 5).pk], "not_before": later.isoformat()},
    )
    assert response.status_code == 202, response.data
    assert parse_datetime(response.data["not_before"]) == later
    command = PowerCommand.objects.get(pk=response.data["id"])
    assert command.not_before == later and command.status == CommandStatus.PENDING


def test_a_not_before_in_the_past_means_now(api, dc):
    earlier = timezone.now() - timedelta(minutes=5)
    response = post(
        api,
        {"action": "on", "outlets": [outlet(dc["a"], 5).pk], "not_before": earlier.isoformat()},
    )
    assert response.status_code == 202, response.data
    assert response.data["not_before"] is None


# --- Shortcuts ---------------------------------------------------------------------------


def test_host_shortcut(api, dc, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(
            api, {"reason": "hung", "force": True}, url=f"{API}/hosts/{dc['web'].pk}/power/cycle/"
        )
    assert response.status_code == 202, response.data
    assert response.data["action"] == "cycle"
    assert response.data["targets"] == {"outlets": [], "hosts": [dc["web"].pk], "racks": []}
    assert len(response.data["results"]) == 2
    assert len(callbacks) == 1


def test_outlet_shortcut(api, dc):
    target = outlet(dc["b"], 9)
    response = post(api, {}, url=f"{API}/outlets/{target.pk}/power/on/")
    assert response.status_code == 202, response.data
    assert [r["outlet"]["id"] for r in response.data["results"]] == [target.pk]
    assert response.data["targets"]["outlets"] == [target.pk]


def test_rack_shortcut(api, dc):
    url = f"{API}/racks/{dc['rack'].pk}/power/off/"
    refused = post(api, {"reason": "decommission"}, url=url)
    assert refused.status_code == 409
    assert codes(refused) == ["protected_host", "last_live_supply"]
    response = post(api, {"reason": "decommission", "force": True}, url=url)
    assert response.status_code == 202, response.data
    assert len(response.data["results"]) == 48
    assert response.data["targets"]["racks"] == [dc["rack"].pk]


def test_shortcut_with_a_bad_action_in_the_url_is_refused(api, dc):
    response = post(api, {}, url=f"{API}/hosts/{dc['web'].pk}/power/reboot/")
    assert response.status_code == 400
    assert "action" in response.data
    assert nothing_persisted()


@pytest.mark.parametrize("kind", ["hosts", "outlets", "racks"])
def test_shortcut_on_a_missing_target_is_404(api, dc, kind):
    response = post(api, {"reason": "x"}, url=f"{API}/{kind}/999999/power/off/")
    assert response.status_code == 404
    assert nothing_persisted()


def test_shortcut_body_cannot_name_other_targets_or_an_action(api, dc):
    url = f"{API}/outlets/{outlet(dc['a'], 5).pk}/power/on/"
    response = post(api, {"hosts": [dc["web"].pk], "action": "off"}, url=url)
    assert response.status_code == 400
    assert response.data == {"action": ["Unknown field."], "hosts": ["Unknown field."]}
    assert nothing_persisted()


def test_shortcut_dry_run(api, dc):
    response = post(api, {"dry_run": True}, url=f"{API}/hosts/{dc['db'].pk}/power/off/")
    assert response.status_code == 200, response.data
    assert codes(response) == ["reason_required", "protected_host"]
    assert nothing_persisted()


# --- Cancelling --------------------------------------------------------------------------


def test_cancelling_a_pending_command_frees_its_outlets(api, dc):
    targets = [outlet(dc["a"], 5).pk, outlet(dc["b"], 5).pk]
    created = post(api, {"action": "off", "outlets": targets, "reason": "maintenance"})
    assert created.status_code == 202
    response = post(api, {}, url=f"{COMMANDS}{created.data['id']}/cancel/")
    assert response.status_code == 200, response.data
    assert response.data["status"] == CommandStatus.CANCELLED
    assert response.data["finished_at"] is not None
    assert {r["outcome"] for r in response.data["results"]} == {OutletOutcome.CANCELLED}
    assert not PowerCommandOutlet.objects.filter(active=True).exists()
    again = post(api, {"action": "on", "outlets": targets})
    assert again.status_code == 202, again.data


@pytest.mark.parametrize("status", [CommandStatus.SUCCEEDED, CommandStatus.RUNNING])
def test_a_running_or_finished_command_cannot_be_cancelled(api, dc, status):
    created = post(api, {"action": "on", "outlets": [outlet(dc["a"], 5).pk]})
    PowerCommand.objects.filter(pk=created.data["id"]).update(status=status)
    response = post(api, {}, url=f"{COMMANDS}{created.data['id']}/cancel/")
    assert response.status_code == 400
    assert status in str(response.data["status"])
    assert PowerCommand.objects.get(pk=created.data["id"]).status == status


def test_a_cancelled_command_cannot_be_cancelled_again(api, dc):
    created = post(api, {"action": "on", "outlets": [outlet(dc["a"], 5).pk]})
    url = f"{COMMANDS}{created.data['id']}/cancel/"
    assert post(api, {}, url=url).status_code == 200
    response = post(api, {}, url=url)
    assert response.status_code == 400
    assert "cancelled" in str(response.data["status"])


def test_cancelling_a_missing_command_is_404(api, dc):
    assert post(api, {}, url=f"{COMMANDS}999999/cancel/").status_code == 404


def test_cancelling_needs_the_permission(anon, api, django_user_model, dc):
    created = post(api, {"action": "on", "outlets": [outlet(dc["a"], 5).pk]})
    anon.force_authenticate(django_user_model.objects.create_user("reader", password="pw-x-123"))
    assert post(anon, {}, url=f"{COMMANDS}{created.data['id']}/cancel/").status_code == 403
    assert PowerCommand.objects.get().status == CommandStatus.PENDING


# --- Reading the history -----------------------------------------------------------------


def test_detail(api, dc):
    created = post(api, {"action": "on", "outlets": [outlet(dc["a"], 5).pk]})
    response = api.get(f"{COMMANDS}{created.data['id']}/")
    assert response.status_code == 200
    assert response.data == created.data
    assert api.get(f"{COMMANDS}999999/").status_code == 404


@pytest.fixture
def history(dc, admin_user, django_user_model):
    """Four commands: on A:5 (root, pending), off web01's A side (root, succeeded), cycle
    db01 by "operator" (pending, ticket CHG-1), and on an outlet in another site (root)."""
    operator = django_user_model.objects.create_user("operator", password="pw-operator-123")
    factories.grant(operator, "operator")
    factories.grant(operator, "guardrail-override")

    def request(user, **kwargs):
        return power_command_request(user=user, **kwargs).command

    on = request(admin_user, action="on", outlet_ids=[outlet(dc["a"], 5).pk])
    off = request(admin_user, action="off", outlet_ids=[outlet(dc["a"], 1).pk], reason="x")
    PowerCommand.objects.filter(pk=off.pk).update(status=CommandStatus.SUCCEEDED)
    off.outlets.update(active=False)
    cycle = request(
        operator,
        action="cycle",
        host_ids=[dc["db"].pk],
        reason="firmware",
        ticket="CHG-1",
        force=True,
    )
    elsewhere_pdu = factories.make_pdu(rack=factories.make_rack(), outlet_count=2)
    elsewhere = request(admin_user, action="on", outlet_ids=[outlet(elsewhere_pdu, 1).pk])
    # Creation times an hour apart, oldest first.
    base = timezone.now() - timedelta(hours=10)
    for hours, command in enumerate((on, off, cycle, elsewhere)):
        PowerCommand.objects.filter(pk=command.pk).update(created=base + timedelta(hours=hours))
    return {"on": on, "off": off, "cycle": cycle, "elsewhere": elsewhere, "base": base}


def listed(api, **params) -> list[int]:
    response = api.get(COMMANDS, params)
    assert response.status_code == 200, response.data
    return sorted(item["id"] for item in response.data["results"])


def ids(history, *names) -> list[int]:
    return sorted(history[name].pk for name in names)


def test_list_is_newest_first_with_results(api, history):
    response = api.get(COMMANDS)
    assert response.data["count"] == 4
    assert [c["id"] for c in response.data["results"]] == [
        history[name].pk for name in ("elsewhere", "cycle", "off", "on")
    ]
    cycle = response.data["results"][1]
    assert cycle["requested_by"] == "operator" and len(cycle["results"]) == 2


def test_list_filters(api, history, dc):
    base = history["base"]
    assert listed(api, status="succeeded") == ids(history, "off")
    assert listed(api, status=["succeeded", "pending"]) == ids(
        history, "on", "off", "cycle", "elsewhere"
    )
    assert listed(api, status="failed") == []
    assert listed(api, action="on") == ids(history, "on", "elsewhere")
    assert listed(api, action="cycle") == ids(history, "cycle")
    assert listed(api, host=dc["web"].pk) == ids(history, "off")
    assert listed(api, host=dc["db"].pk) == ids(history, "cycle")
    assert listed(api, outlet=outlet(dc["a"], 5).pk) == ids(history, "on")
    assert listed(api, outlet=outlet(dc["b"], 2).pk) == ids(history, "cycle")
    assert listed(api, user="operator") == ids(history, "cycle")
    assert listed(api, user="root") == ids(history, "on", "off", "elsewhere")
    after = (base + timedelta(hours=1, minutes=30)).isoformat()
    before = (base + timedelta(hours=2, minutes=30)).isoformat()
    assert listed(api, created_after=after) == ids(history, "cycle", "elsewhere")
    assert listed(api, created_before=before) == ids(history, "on", "off", "cycle")
    assert listed(api, created_after=after, created_before=before) == ids(history, "cycle")
    assert listed(api, site=dc["rack"].site_id) == ids(history, "on", "off", "cycle")
    assert listed(api, site=history["elsewhere"].site_id) == ids(history, "elsewhere")
    assert listed(api, ticket="CHG-1") == ids(history, "cycle")
    assert listed(api, q="firmware") == ids(history, "cycle")


@pytest.mark.parametrize(
    "params",
    [{"stauts": "pending"}, {"hostname": "web01"}, {"status": "done"}, {"host": "web01"}],
)
def test_unknown_query_parameters_and_bad_values_are_refused(api, history, params):
    response = api.get(COMMANDS, params)
    assert response.status_code == 400
    assert list(response.data) == list(params)


def test_list_query_count_does_not_depend_on_the_number_of_commands(api, dc, admin_user):
    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = api.get(COMMANDS)
        assert response.status_code == 200
        return len(queries), len(response.data["results"])

    def request(pdu, number):
        power_command_request(user=admin_user, action="on", outlet_ids=[outlet(pdu, number).pk])

    request(dc["a"], 3)
    one, listed_one = count()
    for number in range(4, 23):
        request(dc["b"] if number % 2 else dc["a"], number)
    twenty, listed_twenty = count()
    assert (listed_one, listed_twenty) == (1, 20)
    assert one == twenty == 3  # count, page, results with outlet and PDU


# --- OpenAPI -----------------------------------------------------------------------------


def test_schema_documents_the_power_endpoints_and_validates(api):
    response = api.get(f"{API}/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    validate(schema)
    paths = schema["paths"]
    assert set(paths[f"{COMMANDS}"]) >= {"get", "post"}
    assert "get" in paths[f"{COMMANDS}{{id}}/"]
    assert "post" in paths[f"{COMMANDS}{{id}}/cancel/"]
    for kind in ("hosts", "outlets", "racks"):
        assert "post" in paths[f"{API}/{kind}/{{id}}/power/{{power_action}}/"]
    post_op = paths[COMMANDS]["post"]
    assert "Idempotency-Key" in {p["name"] for p in post_op["parameters"]}
    assert {"202", "200"} <= set(post_op["responses"])
    list_params = {p["name"] for p in paths[COMMANDS]["get"]["parameters"]}
    assert list_params >= {
        "status",
        "action",
        "host",
        "outlet",
        "user",
        "created_after",
        "created_before",
        "site",
    }


def test_an_idempotency_key_reused_for_another_request_is_refused(api, pdus):
    first = pdus[0].outlets.get(number=11)
    second = pdus[0].outlets.get(number=12)
    body = {"action": "on", "outlets": [first.pk]}
    assert api.post(COMMANDS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code == 202
    response = api.post(
        COMMANDS,
        {"action": "on", "outlets": [second.pk]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert response.status_code == 400
    assert "Already used for command" in response.data["Idempotency-Key"][0]


# --- Waiting for the outcome (Prefer: wait, ?wait) -----------------------------------------
# Here no worker runs, so a wait ends by its timeout; tests/power/test_worker_e2e.py shows a
# waiting request answered with the verified outcome, and tests/power/test_completion.py the
# announcement itself.


@pytest.mark.parametrize("prefer", ["wait=soon", "wait=-1", "wait=1.5", "wait="])
def test_a_malformed_wait_preference_is_refused_and_changes_nothing(api, dc, prefer):
    response = post(api, {}, url=f"{API}/outlets/{outlet(dc['a'], 5).pk}/power/on/", Prefer=prefer)
    assert response.status_code == 400
    assert "RFC 7240" in response.data["Prefer"][0]
    assert nothing_persisted()


def test_other_preferences_are_ignored(api, dc):
    response = post(
        api, {}, url=f"{API}/outlets/{outlet(dc['a'], 5).pk}/power/on/", Prefer="respond-async"
    )
    assert response.status_code == 202
    assert "Preference-Applied" not in response.headers


def test_a_wait_that_expires_answers_202_with_the_command_as_it_stands(api, dc):
    started = time.monotonic()
    response = post(
        api, {}, url=f"{API}/outlets/{outlet(dc['a'], 5).pk}/power/on/", Prefer="wait=1"
    )
    assert time.monotonic() - started >= 1.0
    assert response.status_code == 202
    assert response.headers["Preference-Applied"] == "wait=1"
    assert response.data["status"] == CommandStatus.PENDING
    assert "Location" not in response.headers


def test_a_wait_is_capped(api, dc, settings):
    settings.POWER_MAX_WAIT_S = 0
    response = post(
        api, {}, url=f"{API}/outlets/{outlet(dc['a'], 5).pk}/power/on/", Prefer="wait=3600"
    )
    assert response.status_code == 202
    assert response.headers["Preference-Applied"] == "wait=0"


def test_a_scheduled_command_is_not_waited_for(api, dc):
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    response = post(
        api,
        {"action": "on", "outlets": [outlet(dc["a"], 5).pk], "not_before": later},
        Prefer="wait=30",
    )
    assert response.status_code == 202
    assert "Preference-Applied" not in response.headers


def test_a_finished_command_is_answered_at_once_by_a_waiting_read(api, dc, admin_user):
    command = power_command_request(
        user=admin_user, action="on", outlet_ids=[outlet(dc["a"], 5).pk]
    ).command
    power_command_cancel(command=command)
    started = time.monotonic()
    response = api.get(f"{COMMANDS}{command.pk}/", {"wait": 30})
    assert time.monotonic() - started < 5  # not the 30 s asked for: it has finished
    assert response.status_code == 200
    assert response.data["status"] == CommandStatus.CANCELLED


def test_a_waiting_read_of_a_pending_command_times_out_with_its_state(api, dc, admin_user):
    command = power_command_request(
        user=admin_user, action="on", outlet_ids=[outlet(dc["a"], 5).pk]
    ).command
    response = api.get(f"{COMMANDS}{command.pk}/", {"wait": 0.3})
    assert response.status_code == 200
    assert response.data["status"] == CommandStatus.PENDING


@pytest.mark.parametrize(
    ("params", "field"),
    [({"wait": "soon"}, "wait"), ({"wait": -1}, "wait"), ({"wait": 61}, "wait"), ({"w": 1}, "w")],
)
def test_bad_detail_query_parameters_are_refused(api, dc, admin_user, params, field):
    command = power_command_request(
        user=admin_user, action="on", outlet_ids=[outlet(dc["a"], 5).pk]
    ).command
    response = api.get(f"{COMMANDS}{command.pk}/", params)
    assert response.status_code == 400
    assert list(response.data) == [field]


def test_the_schema_documents_waiting(api):
    paths = api.get(f"{API}/schema/?format=json").json()["paths"]
    post_op = paths[COMMANDS]["post"]
    assert "Prefer" in {p["name"] for p in post_op["parameters"]}
    assert "201" in post_op["responses"]
    assert "wait" in {p["name"] for p in paths[f"{COMMANDS}{{id}}/"]["get"]["parameters"]}


def test_a_one_outlet_request_costs_a_fixed_few_queries(api, dc):
    url = f"{API}/outlets/{outlet(dc['a'], 1).pk}/power/on/"  # web01's: a host to look at
    with CaptureQueriesContext(connection) as queries:
        response = post(api, {}, url=url)
    assert response.status_code == 202
    # outlet (with PDU, rack, site) and the host it feeds with its live supplies counted, in
    # one statement; then in one transaction (a savepoint here) the command and its result
    # row. The answer is built from what was written, not read back.
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert statements == ["SELECT", "SAVEPOINT", "INSERT", "INSERT", "RELEASE"]
