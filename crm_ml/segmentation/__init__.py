"""crm_ml.segmentation (see DESIGN.md)."""
