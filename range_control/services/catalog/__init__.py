"""The catalog: challenge.yml trees linted and loaded, timed releases, images built, and the live
proof that every challenge is solvable."""
