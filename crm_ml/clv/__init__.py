"""crm_ml.clv (see DESIGN.md)."""
