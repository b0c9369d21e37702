"""The game day: faults the running stack must detect, measured end to end (make game-day)."""
