"""The results history: every boot recorded (db), compared night to night (compare),
shown as one HTML page (html). docs/history.md explains the rules."""
