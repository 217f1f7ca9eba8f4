"""crm_ml.features (see DESIGN.md)."""
