"""Personnel positioning stream: ranges or fixes to positions and alarms (issue 11)."""
