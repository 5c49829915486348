"""Play: what a team sees of the catalog, its flag attempts, hints, prerequisites, limits and the
scoreboard."""
