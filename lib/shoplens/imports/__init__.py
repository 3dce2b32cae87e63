"""Seller Center exports -> the warehouse, and their reconciliation with the API (docs/imports.md).

`formats` holds the export's columns and its status words per language, `parse` reads files and
cells, `order_export` turns one file into records, `load` writes them (validate all, then one
transaction; `import_exports`), `reconcile` compares both sources (`reconcile`,
`store_reconciliation`), `cli` holds the two commands. Nothing here calls the API. Import from the
modules themselves, so the `shoplens` command starts without loading them.
"""
