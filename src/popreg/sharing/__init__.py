"""Sharing register data with partner agencies and businesses (seed system S2): partners and their
policies, OAuth 2.0 client credentials, the gate every gateway request passes, verification, reads
with consent, and bulk jobs."""
