"""iCalendar (RFC 5545) files for booked demos."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def _escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def _fold(line: str) -> str:
    """Fold a content line at 75 octets, as the RFC requires."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line
    parts, current = [], b""
    for char in line:
        encoded = char.encode("utf-8")
        if len(current) + len(encoded) > (75 if not parts else 74):
            parts.append(current.decode("utf-8"))
            current = b""
        current += encoded
    parts.append(current.decode("utf-8"))
    return "\r\n ".join(parts)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _param(value: str) -> str:
    """A parameter value (CN): quoted, without the quotes and line breaks it may not hold."""
    return '"' + "".join(char for char in value if char not in '"\r\n') + '"'


def event(*, uid: str, start: datetime, minutes: int, summary: str, description: str,
          organizer: str, stamp: datetime, method: str = "PUBLISH", sequence: int = 0,
          organizer_name: str | None = None, attendee: str | None = None, attendee_name: str | None = None,
          url: str | None = None) -> bytes:
    """One VEVENT in a VCALENDAR, times in UTC (no VTIMEZONE) so every calendar shows
    local time. ``method`` REQUEST (new or moved) or CANCEL makes it an invitation
    (RFC 5546) that mail clients offer to add or update, matched by ``uid`` and ordered
    by ``sequence``; ``url``, the meeting link, is its LOCATION and URL."""
    cn = f";CN={_param(organizer_name)}" if organizer_name else ""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Iptor//multiflex demo booking//EN",
        "CALSCALE:GREGORIAN",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"SEQUENCE:{sequence}",
        f"DTSTAMP:{_utc(stamp)}",
        f"DTSTART:{_utc(start)}",
        f"DTEND:{_utc(start + timedelta(minutes=minutes))}",
        f"SUMMARY:{_escape(summary)}",
        f"DESCRIPTION:{_escape(description)}",
        f"ORGANIZER{cn}:mailto:{organizer}",
    ]
    if attendee:
        name = f";CN={_param(attendee_name)}" if attendee_name else ""
        lines.append(f"ATTENDEE{name};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=FALSE:mailto:{attendee}")
    if url:
        lines += [f"LOCATION:{_escape(url)}", f"URL:{url}"]
    lines += [
        "STATUS:CANCELLED" if method == "CANCEL" else "STATUS:CONFIRMED",
        "TRANSP:OPAQUE",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode("utf-8")
