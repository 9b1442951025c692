"""anniversary-scheduler: yearly commemoration campaigns, computed and sent exactly once."""

__version__ = "0.1.0"
