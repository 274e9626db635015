"""Storage: the schema (``models``) and its migrations, the engine, and the
tables' own writes (hop log, outbox rows, visits, register numbers, IMAP
checkpoints) and reads (``queries``). It decides nothing about mail."""
