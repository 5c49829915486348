"""Web scoreboard, team portal and organiser console (server-rendered pages over the services).

Not built yet: the JSON API in ``range_control.api`` is what exists today.
"""
