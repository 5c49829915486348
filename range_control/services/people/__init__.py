"""People: teams and their tokens, accounts and invites, browser sessions, single sign-on, personal
API tokens."""
