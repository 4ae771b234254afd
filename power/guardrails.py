"""The guardrails a power request must pass, checked against its blast radius.

- A locked outlet refuses every command; nothing overrides a lock but unlocking it.
- Switching off or cycling requires a reason.
- Cutting power that feeds a protected host, or an active host's last live supply, is refused
  unless the request says ``force`` (and, with force, a reason is all the more required).

Each refusal explains itself, so an on-call engineer knows what to change.
"""

from __future__ import annotations

from dataclasses import dataclass

from power.blast_radius import BlastRadius


@dataclass(frozen=True)
class Refusal:
    code: str  # locked_outlet, reason_required, protected_host, last_live_supply
    message: str
    overridable: bool  # whether force would let the request through


def _names(objects) -> str:
    names = [str(obj) for obj in objects]
    shown = ", ".join(names[:10])
    return shown + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def guardrail_refusals(radius: BlastRadius, *, reason: str, force: bool) -> list[Refusal]:
    """Every reason to refuse the request; empty when it may go ahead."""
    refusals: list[Refusal] = []
    if radius.locked_outlets:
        refusals.append(
            Refusal(
                "locked_outlet",
                f"Locked outlets refuse every command: {_names(radius.locked_outlets)} "
                f"({'; '.join(sorted({o.lock_reason for o in radius.locked_outlets}))}).",
                overridable=False,
            )
        )
    if not radius.action.cuts_power:
        return refusals
    if not reason.strip():
        refusals.append(
            Refusal(
                "reason_required",
                f"Say why: a reason is required to {radius.action} power.",
                overridable=False,
            )
        )
    if force:
        return refusals
    if radius.protected_hosts_affected:
        refusals.append(
            Refusal(
                "protected_host",
                f"{radius.action.capitalize()} would cut power feeding protected host(s) "
                f"{_names(radius.protected_hosts_affected)}; give force with a reason to "
                "override.",
                overridable=True,
            )
        )
    last_supply = [h for h in radius.active_hosts_losing_all_power if not h.protected]
    if last_supply:
        refusals.append(
            Refusal(
                "last_live_supply",
                f"{radius.action.capitalize()} would cut the last live supply of active host(s) "
                f"{_names(last_supply)}; give force with a reason to override.",
                overridable=True,
            )
        )
    return refusals
