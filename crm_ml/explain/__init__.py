"""crm_ml.explain (see DESIGN.md)."""
