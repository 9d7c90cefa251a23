"""Demo booking: the calendar of slots, the booking form and its confirmation and calendar file."""
