"""Boot harness for seL4-style elfloader images."""
