"""crm_ml.forecast (see DESIGN.md)."""
