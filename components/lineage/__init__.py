"""OpenLineage events for stage runs and registration (docs/lineage.md)."""
