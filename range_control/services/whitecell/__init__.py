"""The white cell: graded tasks (submission, blind grading, publication) and the after-action
report."""
