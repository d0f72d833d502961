"""The risk dataflow: alarms, gas readings and register events in, risk scores per hazard source out."""
