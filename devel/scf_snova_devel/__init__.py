"""Development helpers shared by the tests, the benchmarks and ``make demo``: the one
test-support package. Installed (editable) by the development set-up, never shipped."""
