"""The meaning of changes: how two records of a trial differ (`diff`), and dates (`dates`)."""
