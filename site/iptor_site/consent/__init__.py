"""Every form's consent: the stamp that proves what a person was shown and ticked, and cookie consent."""
