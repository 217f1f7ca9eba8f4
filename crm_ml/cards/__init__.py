"""crm_ml.cards (see DESIGN.md)."""
