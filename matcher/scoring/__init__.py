"""scoring layer (see DESIGN.md §2)."""
