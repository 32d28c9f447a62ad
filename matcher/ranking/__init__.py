"""ranking layer (see DESIGN.md §2)."""
