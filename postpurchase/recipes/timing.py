"""Timing shared by the recipes."""

#: Marketing emails due a day or more after the trigger go out in the customer's
#: daytime (their local 9:00-21:00, any weekday): a delay that ends at night waits for
#: the morning (domain D4). Spread into a delay step spec.
SEND_WINDOW = {"window_start_hour": 9, "window_end_hour": 21}
