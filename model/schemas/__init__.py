"""JSON Schemas of the data contract (docs/data-format.md)."""
