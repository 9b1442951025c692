"""The subscriber lifecycle (README: The web app, Privacy): sign-up with double opt-in,
one-click unsubscribe, preferences, suppression and the privacy commands. The web app
and the command line call these functions; they read no clock (``now`` comes in)."""

from scheduler.content.tokens import BadToken
from scheduler.lifecycle.inputs import InvalidInput, RateLimited, Replayed, SignupRequest, UnknownSubscriber
from scheduler.lifecycle.subscriptions import Lifecycle, NoticeFailed, Profile

__all__ = [
    "BadToken",
    "InvalidInput",
    "Lifecycle",
    "NoticeFailed",
    "Profile",
    "RateLimited",
    "Replayed",
    "SignupRequest",
    "UnknownSubscriber",
]
