"""crm_ml.datasets (see DESIGN.md)."""
