"""The household register through the API: registering a household, its members and their
facts, the household with its cases, the search. Each change to a household with an open case
is recorded on the case (``app.cases.service.record_household_change``), in the change's
transaction; the registry's rows and rules themselves are ``app.households``, which knows no
case."""
