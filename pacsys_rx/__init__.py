"""pacsys_rx: reactive access to Fermilab's ACNET control system."""
