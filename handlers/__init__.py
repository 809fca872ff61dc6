"""Slack listeners (commands/, actions/, events/) and the HTTP routes. Thin: parse, call the
core, render, reply. Arrives with the Slack app issue."""
