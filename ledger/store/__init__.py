"""The write path (intake -> sequencer -> log) and reads of the log."""
