"""Users as the rest of the domain sees them: people tasks can be assigned to."""
