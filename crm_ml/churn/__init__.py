"""crm_ml.churn (see DESIGN.md)."""
