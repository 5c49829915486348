"""The organiser's desk: the console's dashboard, the attempts record, sharing alerts, awards."""
