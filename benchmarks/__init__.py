"""Scripts that print numbers (speed, memory, accuracy), run from the project root as
``python -m benchmarks.NAME``; they are not tests. Each reads the shared HAM10000 copy in place."""
