"""The database models, one module per concern; imported here so metadata is complete."""

from .base import Base
from .consent import ConsentStamp, ConsentStampItem, ConsentText
from .cookies import CookieConsentEvent
from .leads import DemoBooking, Lead, PrivacyInquiry, SpamSubmission
from .outbox import OutboxMessage
from .ratelimit import RateLimitCounter
from .rights import ConsentRevocation, ErasureRecord, ProcessingLimit, RequestStatusChange, RequestToken, Suppression
from .sales import SalesProfile, SalesTimeOff
from .staff import AuditEntry, StaffUser

__all__ = [
    "AuditEntry",
    "StaffUser",
    "ConsentRevocation",
    "ErasureRecord",
    "ProcessingLimit",
    "RequestStatusChange",
    "RequestToken",
    "Suppression",
    "Base",
    "ConsentStamp",
    "ConsentStampItem",
    "ConsentText",
    "CookieConsentEvent",
    "DemoBooking",
    "Lead",
    "OutboxMessage",
    "PrivacyInquiry",
    "RateLimitCounter",
    "SalesProfile",
    "SalesTimeOff",
    "SpamSubmission",
]
