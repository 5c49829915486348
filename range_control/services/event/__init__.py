"""The event: its times and state, the scenario and its timeline, the organisers' controls,
announcements."""
