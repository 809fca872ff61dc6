"""Month- and quarter-end forecasts with an 80% interval, budgets and their warning ladder,
and the live GPU burn that covers the billing lag."""
