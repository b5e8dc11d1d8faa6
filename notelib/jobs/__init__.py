"""jobs: reports, sweeps, the command line and benchmarks."""
