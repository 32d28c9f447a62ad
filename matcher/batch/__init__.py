"""batch layer (see DESIGN.md §2)."""
