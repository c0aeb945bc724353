"""What each flow and email earns: conversions attributed to the last human touch
(:mod:`~postpurchase.analytics.attribution`) and the reports staff read
(:mod:`~postpurchase.analytics.reports`, :mod:`~postpurchase.analytics.chart`).

Reports read the roll-ups on ``Message`` (sent, delivered, opens, clicks, ...) and the
``Conversion`` rows, never the MessageEvents, which retention purges."""
