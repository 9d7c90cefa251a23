"""The database models, one module per concern; imported here so metadata is complete."""

from iptor_site.consent.models import (
    ConsentRevocation,
    ConsentStamp,
    ConsentStampItem,
    ConsentText,
    CookieConsentEvent,
    Suppression,
)
from iptor_site.core.audit import AuditEntry
from iptor_site.core.models import Base
from iptor_site.core.ratelimits import RateLimitCounter
from iptor_site.core.staff import StaffUser
from iptor_site.demo.models import DemoBooking, SalesProfile, SalesTimeOff
from iptor_site.leads.models import Lead, SpamSubmission
from iptor_site.mail.models import OutboxMessage
from iptor_site.privacy_requests.models import (
    ErasureRecord,
    PrivacyInquiry,
    ProcessingLimit,
    RequestStatusChange,
    RequestToken,
)

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
