"""What every layer may use: errors, the clock, settings, languages, markup, durable files, logs
and metrics, who may do what (permissions) and who did it (actors). No I/O beyond the
environment and the files they are asked to write."""
