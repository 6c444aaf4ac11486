"""The event-driven shop: two services that publish what they made of an event, and a workflow."""
