"""crm_ml.rfm (see DESIGN.md)."""
