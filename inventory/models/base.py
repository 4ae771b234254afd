"""What every inventory model shares: timestamps, field-level uniqueness errors, row locks."""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, router, transaction
from django.db.models import UniqueConstraint


class InventoryModel(models.Model):
    created = models.DateTimeField(auto_now_add=True)
    last_updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        # An empty optional identifier (asset tag) is stored as NULL, so that many objects may
        # have none without colliding on its unique constraint.
        for field in self._meta.concrete_fields:
            if (
                isinstance(field, models.CharField)
                and field.null
                and field.value_from_object(self) == ""
            ):
                setattr(self, field.attname, None)

    def validate_constraints(self, exclude=None):
        """Like Django's, but a scoped unique constraint (site + name, pdu + number) reports
        on its last field, so clients are told which field to change: "name", not "__all__"."""
        using = router.db_for_write(self.__class__, instance=self)
        errors: dict[str, list[ValidationError]] = {}
        for model_class, constraints in self.get_constraints():
            for constraint in constraints:
                try:
                    constraint.validate(model_class, self, exclude=exclude, using=using)
                except ValidationError as exc:
                    if isinstance(constraint, UniqueConstraint) and constraint.fields:
                        field = constraint.fields[-1]
                    else:
                        field = NON_FIELD_ERRORS
                    errors.setdefault(field, []).extend(exc.error_list)
        if errors:
            raise ValidationError(errors)


def lock_row_for_validation(model: type[models.Model], pk) -> models.Model | None:
    """Load a row, locking it when inside a transaction (SELECT ... FOR UPDATE).

    Rules that look at sibling rows (hosts overlapping in a rack, outlets of a PDU) lock the
    parent row first, so two concurrent writers are checked one after the other instead of both
    passing. Admin changes and API writes always run in a transaction; outside one (a shell) there
    is nothing to serialise with and the row is read plainly.
    """
    if pk is None:
        return None
    manager = model._default_manager
    if transaction.get_connection(router.db_for_write(model)).in_atomic_block:
        return manager.select_for_update().filter(pk=pk).first()
    return manager.filter(pk=pk).first()
