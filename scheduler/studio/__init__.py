"""The organizers' studio (README: The studio): a local web app that shows exactly what
a stage sends, for any year, language, zone or subscriber, and updates as templates
and config.toml are saved. It binds to 127.0.0.1 by default and has no public pages."""
