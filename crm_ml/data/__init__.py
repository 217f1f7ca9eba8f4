"""crm_ml.data (see DESIGN.md)."""
