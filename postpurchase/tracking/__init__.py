"""ESP tracking: delivery, bounce, complaint, open and click events from Anymail's
webhooks, stored as MessageEvents (see docs/tracking.md)."""
