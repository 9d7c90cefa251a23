"""Demo booking: who gives demos, when they are free, and their calendars."""
