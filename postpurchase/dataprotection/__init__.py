"""Data protection: export everything about a contact (``export.export_contact``),
erase a contact (``erase.erase_contact``), and the list of erased addresses, kept as
keyed hashes, that no email goes to (``suppression``). See docs/consent.md."""
