"""Hidden hazards (隐患): register → rectify → verify → close (销号), with overdue escalation."""
