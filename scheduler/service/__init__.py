"""The long-running edge: the daemon (APScheduler) and its systemd notifications."""
