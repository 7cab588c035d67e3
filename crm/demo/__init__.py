"""Demo data: ``district`` and ``names`` hold the words, ``facts`` the odds, ``plan`` draws a
district from a seed without touching the database, ``seed`` loads it, ``cli`` is
``flask crm seed-demo``."""
