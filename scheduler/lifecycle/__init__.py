"""The subscriber lifecycle (README: The web app, Privacy): sign-up with double opt-in,
one-click unsubscribe, preferences, suppression and the privacy commands. The web app
and the command line call these functions; they read no clock (``now`` comes in)."""
