"""Defence exercises, pure: self-verifying flags (``flags``), what a checker's answer means and a
tick's verdict (``verdicts``), which tick it is and when a check starts in it (``ticks``), and
the availability points of each tick (``scoring``). No I/O, no clock, no database."""
