"""The slices of the ``trustdesk`` command, one module per domain (see ``trustdesk.cli``)."""
