"""Defence exercises: every team defends its own copy of each defended service, and the range
checks them every tick with the services' own checkers (the Hackerdom/ForcAD executable or
EnoEngine's HTTP API, unchanged), and scores availability in the ledger.

``plan``: the scenario's defence block and the defended services, and which tick it is;
``chains``: a tick's flags and each team's chain of actions, as a check batch, and what the
checker's answers mean; ``ticks``: the worker's loop (ticks persisted, run once, a missed
one recorded as not checked, a pause cancelling the checks); ``actions``: a reset to the
baseline, an unscored check, a tick checked again, the checks paused; ``views``: the grid, a
team's services, the checkers' health; ``scores``: the ledger's entries.
"""
