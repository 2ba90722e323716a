"""The national monitored-household sheet as this release knows it: its columns
(:mod:`.sheet`, a versioned table), its code lists with the service identifiers' items
(:mod:`.labels`) and the city's corrections of those lists (:mod:`.corrections`). The exports,
the ledgers and the door read it; it reads no domain but access."""
