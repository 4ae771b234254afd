"""Signals power control sends, for other apps to react to (telemetry re-polls the PDUs of a
finished command and records an event) without power control knowing them."""

from django.dispatch import Signal

# Sent after the transaction that finished (or cancelled) a command has committed, with
# ``command_id``, ``status``, ``site_id`` and ``pdu_ids``. Receivers must not raise; they are
# called with send_robust, and a failing one is logged.
power_command_finished = Signal()
