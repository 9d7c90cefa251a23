"""Outgoing mail: built as RFC 5322 messages, written to the outbox, sent by the worker."""
