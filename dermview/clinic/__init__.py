"""A clinic's session, Qt-free: the worklist of its images, what is exported and printed about each,
and the saved session that survives a restart. The window and the command line only adapt it."""
