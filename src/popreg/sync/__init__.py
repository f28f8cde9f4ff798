"""Inbound updates from other agencies (idempotent, matched to a person, validated, conflicts queued
for an official) and outbound change events to subscribers (transactional outbox, webhooks, NATS)."""
