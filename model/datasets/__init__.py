"""Data: annotation contract, feature table, importers, datasets."""
