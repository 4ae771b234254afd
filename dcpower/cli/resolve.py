"""Names to objects, through the API's list filters: a host or rack by name (and ``--site``
when the name exists at several sites), an outlet by ``PDU:NUMBER``, a site by slug."""

from __future__ import annotations

from dcpower.cli.client import API, Client
from dcpower.cli.errors import NotFound, UsageError

KINDS = ("host", "rack", "outlet")
COLLECTION = {"host": "hosts", "rack": "racks", "outlet": "outlets", "pdu": "pdus"}


def site_id(client: Client, slug: str) -> int:
    found = client.list_all(f"{API}/sites/", {"slug": slug})
    if not found:
        raise NotFound(f"No site with slug {slug!r}.")
    return found[0]["id"]


def host(client: Client, name: str, *, site: str | None = None) -> dict:
    params: dict = {"name": name}
    if site:
        params["site"] = site_id(client, site)
    return _one(client, "host", name, client.list_all(f"{API}/hosts/", params), site)


def rack(client: Client, name: str, *, site: str | None = None) -> dict:
    params: dict = {"name": name}
    if site:
        params["site_slug"] = site
    return _one(client, "rack", name, client.list_all(f"{API}/racks/", params), site)


def outlet(client: Client, spec: str, *, site: str | None = None) -> dict:
    """``R01-PDU-A:7``: outlet 7 of the PDU named R01-PDU-A."""
    pdu_name, separator, number = spec.rpartition(":")
    if not separator or not pdu_name or not number.isdigit():
        raise UsageError(f"An outlet is PDU:NUMBER (e.g. R01-PDU-A:7), not {spec!r}.")
    params: dict = {"name": pdu_name}
    if site:
        params["site"] = site_id(client, site)
    pdu = _one(client, "PDU", pdu_name, client.list_all(f"{API}/pdus/", params), site)
    found = client.list_all(f"{API}/outlets/", {"pdu": pdu["id"], "number": int(number)})
    if not found:
        raise NotFound(
            f"PDU {pdu_name} has no outlet {number} (it has {pdu.get('outlet_count', '?')})."
        )
    return found[0]


def target(client: Client, kind: str, name: str, *, site: str | None = None) -> dict:
    return {"host": host, "rack": rack, "outlet": outlet}[kind](client, name, site=site)


def outlets_by_id(client: Client, ids: list[int]) -> dict[int, dict]:
    """Outlets with their PDU, host, state and readings, in as few requests as pages."""
    found: dict[int, dict] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), 200):  # keep each URL short
        chunk = ",".join(str(pk) for pk in unique[start : start + 200])
        for item in client.list_all(f"{API}/outlets/", {"id__in": chunk}):
            found[item["id"]] = item
    return found


def _one(client: Client, what: str, name: str, found: list[dict], site: str | None) -> dict:
    if not found:
        where = f" at site {site!r}" if site else ""
        raise NotFound(f"No {what} named {name!r}{where}.")
    if len(found) == 1:
        return found[0]
    site_ids = sorted({item["site"]["id"] for item in found})
    if len(site_ids) > 1:
        slugs = [
            s["slug"]
            for s in client.list_all(f"{API}/sites/", {"id__in": ",".join(map(str, site_ids))})
        ]
        raise UsageError(
            f"The {what} name {name!r} exists at several sites ({', '.join(sorted(slugs))}): "
            "add --site SLUG.",
            data={"sites": sorted(slugs)},
        )
    racks = sorted((item.get("rack") or {}).get("name", "?") for item in found)
    raise UsageError(
        f"{len(found)} {what}s are named {name!r} at site {found[0]['site']['name']} "
        f"(racks {', '.join(racks)}); the CLI needs a unique name there."
    )
