"""The drivers' boundaries: one module imports each protocol library, drivers know nothing of
Django, and no vendor if/elif chain exists (vendors are data)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DRIVERS = ROOT / "power" / "drivers"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def modules_importing(prefix: str, under: Path) -> list[str]:
    return sorted(
        str(path.relative_to(ROOT))
        for path in under.rglob("*.py")
        if any(name == prefix or name.startswith(prefix + ".") for name in imported_modules(path))
    )


def test_only_one_module_imports_pysnmp():
    assert modules_importing("pysnmp", ROOT / "power") == ["power/drivers/snmp/client.py"]


def test_only_one_module_imports_pymodbus():
    assert modules_importing("pymodbus", ROOT / "power") == ["power/drivers/modbus/client.py"]


def test_drivers_know_nothing_of_django_or_the_inventory():
    for forbidden in ("django", "inventory", "rest_framework"):
        assert modules_importing(forbidden, DRIVERS) == [], forbidden


def test_no_vendor_names_are_compared_in_driver_code():
    """Vendors are rows of data: driver code never branches on a vendor's name."""
    offenders = []
    for path in DRIVERS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(
                isinstance(c, ast.Constant)
                and isinstance(c.value, str)
                and c.value
                in {
                    "apc_rpdu2",
                    "raritan_px",
                    "eaton_epdu",
                    "servertech_sentry4",
                    "servertech_sentry3",
                    "cyberpower_epdu",
                    "apc_masterswitch",
                }
                for c in [node.left, *node.comparators]
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
