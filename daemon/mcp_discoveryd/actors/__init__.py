"""Long-lived tasks that own their state and are driven by their mailbox (see DESIGN, Actors)."""
