"""What the demo and privacy forms share: the lead (the person who wrote), bot traps and the steps of a submission."""
