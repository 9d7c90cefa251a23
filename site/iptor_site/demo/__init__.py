"""Demo scheduling: closed days, the time picker, self-service changes, invitations and reminders."""
