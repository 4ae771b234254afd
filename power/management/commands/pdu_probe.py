"""Identify a PDU and print its outlets' states and readings.

    python manage.py pdu_probe 10.0.0.21 --community public
    python manage.py pdu_probe 10.0.0.21:1161 --snmp-version v3 --v3-user ops \\
        --v3-auth sha --v3-auth-key ... --v3-priv aes128 --v3-priv-key ... --json
    python manage.py pdu_probe 10.0.0.30 --protocol modbus_tcp --vendor modbus_switched_pdu
"""

import json

from django.core.management.base import BaseCommand, CommandError

from power.drivers.base import DeviceTarget, SnmpV3Credentials
from power.drivers.errors import DriverError
from power.drivers.registry import AUTO, known_vendors
from power.probe import probe

DEFAULT_PORTS = {"snmp": 161, "modbus_tcp": 502}


def parse_address(value: str, protocol: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    if not host:
        host, port = value, ""
    if port and not port.isdigit():
        raise CommandError(f"HOST[:PORT]: port {port!r} is not a number")
    number = int(port) if port else DEFAULT_PORTS[protocol]
    if not 1 <= number <= 65535:
        raise CommandError(f"HOST[:PORT]: port {number} is not 1..65535")
    return host, number


def _value(number) -> str:
    return "-" if number is None else f"{number:.3f}".rstrip("0").rstrip(".")


class Command(BaseCommand):
    help = "Identify a PDU and print its outlets' states and readings (SNMP or Modbus TCP)."

    def add_arguments(self, parser):
        parser.add_argument("address", metavar="HOST[:PORT]")
        parser.add_argument("--vendor", default=AUTO, choices=[AUTO, *known_vendors()])
        parser.add_argument("--protocol", default="snmp", choices=sorted(DEFAULT_PORTS))
        parser.add_argument("--snmp-version", default="v2c", choices=["v1", "v2c", "v3"])
        parser.add_argument("--community", default="public", help="read community")
        parser.add_argument("--v3-user")
        parser.add_argument(
            "--v3-auth",
            default="sha",
            choices=["none", "md5", "sha", "sha224", "sha256", "sha384", "sha512"],
        )
        parser.add_argument("--v3-auth-key", default="")
        parser.add_argument(
            "--v3-priv", default="none", choices=["none", "des", "aes128", "aes192", "aes256"]
        )
        parser.add_argument("--v3-priv-key", default="")
        parser.add_argument(
            "--v3-key-extension", default="blumenthal", choices=["blumenthal", "reeder"]
        )
        parser.add_argument("--unit-id", type=int, default=1, help="Modbus unit id")
        parser.add_argument("--timeout", type=float, default=2.0, help="seconds per try")
        parser.add_argument("--retries", type=int, default=1)
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **opts):
        host, port = parse_address(opts["address"], opts["protocol"])
        if opts["snmp_version"] == "v3" and not opts["v3_user"]:
            raise CommandError("--snmp-version v3 needs --v3-user")
        if opts["vendor"] == AUTO and opts["protocol"] != "snmp":
            raise CommandError("auto-detection needs SNMP: give --vendor for a Modbus device")
        v3 = None
        if opts["snmp_version"] == "v3":
            v3 = SnmpV3Credentials(
                username=opts["v3_user"],
                auth_protocol=opts["v3_auth"],
                auth_key=opts["v3_auth_key"],
                priv_protocol=opts["v3_priv"],
                priv_key=opts["v3_priv_key"],
                key_extension=opts["v3_key_extension"],
            )
        target = DeviceTarget(
            host=host,
            port=port,
            protocol=opts["protocol"],
            vendor=opts["vendor"],
            snmp_version=opts["snmp_version"],
            read_community=opts["community"],
            v3=v3,
            modbus_unit_id=opts["unit_id"],
            timeout_s=opts["timeout"],
            retries=opts["retries"],
        )
        try:
            result = probe(target)
        except DriverError as exc:
            raise CommandError(f"{exc.kind}: {exc}") from exc
        if opts["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        self._print(result)

    def _print(self, result: dict) -> None:
        write = self.stdout.write
        write(f"Vendor:      {result['vendor']}")
        write(f"sysObjectID: {result['sys_object_id'] or '-'}")
        write(f"Description: {result['description'] or '-'}")
        write(f"Name:        {result['name'] or '-'}")
        write("")
        write(f"{'#':>3}  {'name':<24} {'state':<8} {'A':>8} {'W':>8} {'kWh':>10}")
        for o in result["outlets"]:
            write(
                f"{o['number']:>3}  {(o['name'] or '')[:24]:<24} {o['state']:<8} "
                f"{_value(o['current_a']):>8} {_value(o['power_w']):>8} "
                f"{_value(o['energy_kwh']):>10}"
            )
        t = result["totals"]
        write("")
        write(
            f"Totals: {_value(t['voltage_v'])} V, {_value(t['current_a'])} A, "
            f"{_value(t['power_w'])} W, {_value(t['energy_kwh'])} kWh"
        )
        for phase in t["phases"]:
            write(
                f"  phase {phase['phase']}: {_value(phase['voltage_v'])} V, "
                f"{_value(phase['current_a'])} A, {_value(phase['power_w'])} W"
            )
