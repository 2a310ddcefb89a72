"""Signal families. Each module turns the flows table into findings (see ``base.CheckResult``)."""
