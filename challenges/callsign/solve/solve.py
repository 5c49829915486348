"""Solver: the callsign is in the briefing (IRON GATE); the flag is case-insensitive."""

print("ice{" + "-".join("IRON GATE".lower().split()) + "}")
