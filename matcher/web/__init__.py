"""web layer (see DESIGN.md §2)."""
