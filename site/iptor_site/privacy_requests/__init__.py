"""Data-subject requests: intake, verification, export, erasure, deadlines and retention."""
