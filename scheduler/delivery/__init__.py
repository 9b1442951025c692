"""The send pipeline (README: How it works): :mod:`runs` holds what the commands and the
daemon call (send a stage, run what is due, resend, send a test, dry run, preview);
:mod:`engine` is one stage's read, group, claim, prepare, dispatch and record;
:mod:`headsup` the organizers' heads-up; :mod:`report` what status and plan show."""
