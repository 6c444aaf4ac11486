"""The schema registry: discovery, versions, compatibility and code bindings of events."""
