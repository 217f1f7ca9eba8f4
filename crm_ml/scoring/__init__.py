"""crm_ml.scoring (see DESIGN.md)."""
