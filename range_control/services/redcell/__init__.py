"""The red cell: the organisers' attackers, and what they did (the white cell's ground truth)."""
