"""The public web app (README: The web app): sign-up, one-click unsubscribe, preferences,
provider webhooks and the statement-for-the-record action, at the paths the messages'
links give them."""
