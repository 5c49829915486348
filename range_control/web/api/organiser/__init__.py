"""Organiser routes under ``/api/v1/admin``, by feature: the organiser token or a personal API
token whose scope grants what each route needs; a team's token is refused."""
